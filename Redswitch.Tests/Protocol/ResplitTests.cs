using System.Text;
using Redswitch.Protocol;
using Redswitch.Protocol.Messages;

namespace Redswitch.Tests.Protocol;

/// <summary>
/// The FreeSWITCH → app bytes of every connection in every capture decode to the same messages
/// however TCP cuts them: whole, as recorded, one byte at a time, at every frame boundary and
/// header end shifted by a few bytes, and at random points (fixed seeds). Then the facts that
/// matter for Redswitch are asserted on the decoded messages.
/// </summary>
public class ResplitTests
{
    private const int RandomSplitsPerCapture = 1200;

    public static IEnumerable<string> CaptureNames => Capture.Names;

    // ---------------------------------------------------------------- framing under any split

    [TestCaseSource(nameof(CaptureNames))]
    public void WholeStreamsDecodeToTheFramesAnIndependentFramerFinds(string name)
    {
        foreach (var (conn, bytes) in Capture.Streams(name, "fs"))
        {
            var reference = ReferenceFrames(bytes);
            var decoded = DecodeHarness.DecodeFrames(bytes);

            Assert.That(decoded, Has.Count.EqualTo(reference.Count), $"{name}/{conn}");
            for (var i = 0; i < reference.Count; i++)
            {
                Assert.That(decoded[i].Wire.ToArray(), Is.EqualTo(reference[i]), $"{name}/{conn} frame {i}");
            }

            Assert.That(decoded, Has.None.TypeOf<UnknownMessage>(), $"{name}/{conn}");
        }
    }

    [TestCaseSource(nameof(CaptureNames))]
    public void ReadsAsRecordedGiveTheSameMessages(string name)
    {
        foreach (var (conn, bytes) in Capture.Streams(name, "fs"))
        {
            var reads = Capture.Reads(name, conn, "fs");
            Assert.That(reads.Sum(r => r.Length), Is.EqualTo(bytes.Length));
            AssertSame(Fingerprints(DecodeHarness.DecodeFrames(bytes)), DecodeHarness.DecodeFrames(reads), $"{name}/{conn} as recorded");
        }
    }

    [TestCaseSource(nameof(CaptureNames))]
    public void OneByteAtATimeGivesTheSameMessages(string name)
    {
        foreach (var (conn, bytes) in Capture.Streams(name, "fs"))
        {
            AssertSame(
                Fingerprints(DecodeHarness.DecodeFrames(bytes)),
                DecodeHarness.DecodeFrames(bytes.Select(b => new[] { b })),
                $"{name}/{conn} one byte at a time");
        }
    }

    [TestCaseSource(nameof(CaptureNames))]
    public void CutsAroundEveryFrameBoundaryAndHeaderEndGiveTheSameMessages(string name)
    {
        foreach (var (conn, bytes) in Capture.Streams(name, "fs"))
        {
            var baseline = DecodeHarness.DecodeFrames(bytes);
            var expected = Fingerprints(baseline);

            // Where frames start, and where each header block's "\n\n" is.
            var marks = new List<int>();
            var offset = 0;
            foreach (var message in baseline)
            {
                marks.Add(offset);
                marks.Add(offset + message.Wire.Span.IndexOf("\n\n"u8) + 1);
                offset += message.WireLength;
            }

            for (var shift = -3; shift <= 3; shift++)
            {
                var cuts = marks.Select(m => m + shift).Where(c => c > 0 && c < bytes.Length).Distinct().Order();
                AssertSame(expected, DecodeHarness.DecodeFrames(DecodeHarness.Split(bytes, cuts)), $"{name}/{conn} cuts at marks{shift:+0;-0;+0}");
            }
        }
    }

    [TestCaseSource(nameof(CaptureNames))]
    public void RandomSplitsGiveTheSameMessages(string name)
    {
        var streams = Capture.Streams(name, "fs").OrderBy(s => s.Key, StringComparer.Ordinal).ToList();
        var baselines = streams.Select(s => Fingerprints(DecodeHarness.DecodeFrames(s.Value))).ToList();
        var random = new Random(StableSeed(name));
        var splits = 0;
        var cutsMade = 0;
        var oneByteChunks = 0;

        for (var i = 0; i < RandomSplitsPerCapture; i++)
        {
            var s = i % streams.Count;
            var (conn, bytes) = streams[s];
            var cuts = RandomCuts(random, bytes, baselines[s]);
            var chunks = DecodeHarness.Split(bytes, cuts).ToList();
            oneByteChunks += chunks.Count(c => c.Length == 1);
            cutsMade += cuts.Count;
            AssertSame(baselines[s], DecodeHarness.DecodeFrames(chunks), $"{name}/{conn} random split {i}");
            splits++;
        }

        Assert.That(splits, Is.GreaterThanOrEqualTo(1000));
        Assert.That(cutsMade, Is.GreaterThan(10_000));
        Assert.That(oneByteChunks, Is.GreaterThan(100), "the random splits include 1-byte reads");
    }

    [TestCaseSource(nameof(CaptureNames))]
    public void AnyKindOfDotNettyBufferGivesTheSameMessages(string name)
    {
        var random = new Random(StableSeed(name) ^ 0x5EED);
        foreach (var (conn, bytes) in Capture.Streams(name, "fs"))
        {
            var expected = Fingerprints(DecodeHarness.DecodeFrames(bytes));
            var chunks = DecodeHarness.Split(bytes, Enumerable.Range(0, 40).Select(_ => random.Next(1, bytes.Length)).Distinct().Order()).ToList();
            foreach (var kind in new[] { "offset", "read-index", "composite", "pooled-heap", "pooled-direct", "unpooled-direct" })
            {
                var buffers = chunks.Where(c => c.Length > 0).Select(c => Buffer(kind, c));
                AssertSame(expected, DecodeBuffers(buffers), $"{name}/{conn} {kind} buffers");
            }
        }
    }

    private static DotNetty.Buffers.IByteBuffer Buffer(string kind, byte[] chunk)
    {
        switch (kind)
        {
            case "offset":
                var padded = new byte[chunk.Length + 14];
                Array.Fill(padded, (byte)'\n');
                chunk.CopyTo(padded, 7);
                return DotNetty.Buffers.Unpooled.WrappedBuffer(padded, 7, chunk.Length);
            case "read-index":
                var withJunk = DotNetty.Buffers.Unpooled.Buffer(chunk.Length + 5);
                withJunk.WriteBytes("\n\n:x\n"u8.ToArray());
                withJunk.WriteBytes(chunk);
                withJunk.SkipBytes(5);
                return withJunk;
            case "composite":
                var half = chunk.Length / 2;
                return DotNetty.Buffers.Unpooled.WrappedBuffer(new[] { chunk[..half], chunk[half..] });
            case "pooled-heap":
                return DotNetty.Buffers.PooledByteBufferAllocator.Default.HeapBuffer(chunk.Length).WriteBytes(chunk);
            case "pooled-direct":
                return DotNetty.Buffers.PooledByteBufferAllocator.Default.DirectBuffer(chunk.Length).WriteBytes(chunk);
            default:
                return DotNetty.Buffers.UnpooledByteBufferAllocator.Default.DirectBuffer(chunk.Length).WriteBytes(chunk);
        }
    }

    private static List<EslMessage> DecodeBuffers(IEnumerable<DotNetty.Buffers.IByteBuffer> buffers)
    {
        var channel = new DotNetty.Transport.Channels.Embedded.EmbeddedChannel(new Redswitch.Protocol.Framing.EslFrameDecoder());
        var result = new List<EslMessage>();
        foreach (var buffer in buffers)
        {
            channel.WriteInbound(buffer);
            while (channel.ReadInbound<EslMessage>() is { } message)
            {
                result.Add(message);
            }
        }

        Assert.That(channel.Finish(), Is.False, "nothing left over");
        return result;
    }

    [Test]
    public void FramesWithCrTerminatorsGiveTheSameMessagesUnderRandomSplits()
    {
        // Frames ending in "\n\n", "\n\r\n" and CRLF throughout, with stray LFs between them.
        var random = new Random(777);
        var pieces = new[]
        {
            "Content-Type: auth/request\n\n",
            "Content-Type: command/reply\nReply-Text: +OK\n\r\n",
            "Content-Type: command/reply\r\nReply-Text: -ERR x\r\n\r\n",
            "Content-Type: api/response\r\nContent-Length: 6\r\n\r\nok\n\r\n\n",
            "Content-Type: api/response\nContent-Length: 5\n\ntrue\n",
            "Content-Length: 29\nContent-Type: text/event-plain\n\nEvent-Name: CUSTOM\nX: a%20b\n\n",
            "\n",
        };
        var stream = new StringBuilder();
        for (var i = 0; i < 400; i++)
        {
            stream.Append(pieces[random.Next(pieces.Length)]);
        }

        var bytes = Encoding.UTF8.GetBytes(stream.ToString());
        var expected = Fingerprints(DecodeHarness.DecodeFrames(bytes.Select(b => new[] { b })));

        Assert.That(expected, Has.Count.GreaterThan(300));
        Assert.That(expected.Select(f => f.ContentType), Has.None.Null);
        AssertSame(expected, DecodeHarness.DecodeFrames(bytes), "whole");
        for (var i = 0; i < 300; i++)
        {
            var cuts = Enumerable.Range(0, random.Next(1, 200)).Select(_ => random.Next(1, bytes.Length)).Distinct().Order();
            AssertSame(expected, DecodeHarness.DecodeFrames(DecodeHarness.Split(bytes, cuts)), $"split {i}");
        }
    }

    [Test]
    public void BuiltFrameStreamsDecodeBackToTheSameFramesUnderAnySplit()
    {
        // Bodies full of frame-like text: only Content-Length may decide where a frame ends.
        var random = new Random(2026);
        var nasty = new[] { "\n\n", "Content-Length: 99\n", "Content-Type: auth/request\n\n", "\n\r\n", "%", "é", ":", "\r" };
        string Text() => string.Concat(Enumerable.Range(0, random.Next(0, 12)).Select(_ => random.Next(3) == 0 ? nasty[random.Next(nasty.Length)] : ((char)random.Next('a', 'z' + 1)).ToString()));

        var built = new List<EslMessage>();
        for (var i = 0; i < 400; i++)
        {
            built.Add((i % 5) switch
            {
                0 => ApiResponse.Create(Text()),
                1 => CommandReply.Create("+OK " + i, ("Job-UUID", $"j-{i}")),
                2 => EslEvent.Create(EslEventFormat.Plain, new[] { KeyValuePair.Create("Event-Name", "BACKGROUND_JOB"), KeyValuePair.Create("X", Text()) }, Text()),
                3 => EslEvent.Create(EslEventFormat.Json, new[] { KeyValuePair.Create("Event-Name", "CUSTOM"), KeyValuePair.Create("X", Text()) }, Text()),
                _ => DisconnectNotice.Linger($"u{i}", "loopback/1-a", i),
            });
        }

        var bytes = built.SelectMany(m => m.Wire.ToArray()).ToArray();
        var expected = Fingerprints(built);
        AssertSame(expected, DecodeHarness.DecodeFrames(bytes), "whole");
        for (var i = 0; i < 200; i++)
        {
            var cuts = Enumerable.Range(0, random.Next(1, 400)).Select(_ => random.Next(1, bytes.Length)).Distinct().Order();
            AssertSame(expected, DecodeHarness.DecodeFrames(DecodeHarness.Split(bytes, cuts)), $"split {i}");
        }
    }

    // ---------------------------------------------------------------- facts that matter

    private static IEnumerable<TestCaseData> OutboundCaptures() =>
        new[] { "call-barge", "call-busy", "call-json", "call-remote-hangup", "socket-drop" }.Select(n => new TestCaseData(n).SetName("ConnectReply_" + n));

    [TestCaseSource(nameof(OutboundCaptures))]
    public void TheOutboundConnectReplyCarriesTheChannelData(string name)
    {
        var (aLeg, dialId) = OriginateOf(name);
        var messages = Decoded(name, "outbound1");
        var reply = messages[0] as CommandReply;

        Assert.That(reply, Is.Not.Null, "FreeSWITCH speaks first only with the reply to connect");
        Assert.Multiple(() =>
        {
            Assert.That(reply!.IsConnectReply, Is.True);
            Assert.That(reply.ContentType, Is.EqualTo("command/reply"));
            Assert.That(reply.SocketMode, Is.EqualTo("async"));
            Assert.That(reply.Control, Is.EqualTo("full"));
            Assert.That(reply.ReplyText, Is.EqualTo("+OK\n"));
            Assert.That(reply.RawReplyText, Is.EqualTo("%2BOK%0A"));
            Assert.That(reply.IsOk, Is.True);
            Assert.That(reply.IsError, Is.False);
            Assert.That(reply.Headers.Contains("Content-Length"), Is.False);
            Assert.That(reply.Body.Length, Is.Zero);
            Assert.That(reply.ChannelData["variable_dial_id"], Is.EqualTo(dialId));
            Assert.That(reply.ChannelData["Unique-ID"], Is.EqualTo(aLeg));
            Assert.That(reply.UniqueId, Is.EqualTo(aLeg));
            Assert.That(reply.ChannelData["Channel-Name"], Does.StartWith("loopback/"));
            Assert.That(reply.ChannelData["Event-Name"], Is.EqualTo("CHANNEL_DATA"));
            Assert.That(reply.ChannelData["variable_origination_caller_id_number"], Is.EqualTo("15105625882"));
            Assert.That(reply.ChannelData.Count, Is.GreaterThan(50));
        });
    }

    [Test]
    public void CommandRepliesAreOrdinaryElsewhere()
    {
        var replies = Decoded("inbound-basics", "inbound").OfType<CommandReply>().ToList();

        Assert.That(replies.Select(r => r.IsConnectReply), Has.All.False);
        Assert.That(replies[0].ReplyText, Is.EqualTo("+OK accepted"));
        var withJob = replies.Where(r => r.JobUuid is not null).ToList();
        Assert.That(withJob, Has.Count.GreaterThanOrEqualTo(4));
        foreach (var reply in withJob)
        {
            Assert.That(reply.ReplyText, Is.EqualTo("+OK Job-UUID: " + reply.JobUuid));
            Assert.That(reply.IsOk, Is.True);
        }

        Assert.That(withJob.Select(r => r.JobUuid), Does.Contain("11111111-2222-3333-4444-555555555555"));

        var badAuth = Decoded("inbound-basics", "inbound-badauth");
        Assert.That(badAuth.Select(m => m.GetType()), Is.EqualTo(new[] { typeof(AuthRequest), typeof(CommandReply), typeof(DisconnectNotice) }));
        Assert.That(((CommandReply)badAuth[1]).ReplyText, Is.EqualTo("-ERR invalid"));
        Assert.That(((CommandReply)badAuth[1]).IsError, Is.True);
        Assert.That(((DisconnectNotice)badAuth[2]).BodyText, Is.EqualTo(DisconnectNotice.GoodbyeText));
        Assert.That(((DisconnectNotice)badAuth[2]).IsLinger, Is.False);
    }

    [TestCase("inbound-basics", "-ERR USER_BUSY\n")]
    [TestCase("inbound-basics", "-ERR NO_ANSWER\n")]
    [TestCase("cancel-ringing", "-ERR ORIGINATOR_CANCEL\n")]
    public void BackgroundJobResultsAreTheEventBodies(string name, string body)
    {
        var jobs = Decoded(name, "inbound").OfType<EslEvent>().Where(e => e.EventName == "BACKGROUND_JOB").ToList();
        var job = jobs.SingleOrDefault(e => e.EventBodyText == body);

        Assert.That(job, Is.Not.Null, $"one BACKGROUND_JOB with body '{body.TrimEnd()}' among: {string.Join(" | ", jobs.Select(j => j.EventBodyText))}");
        Assert.That(job!.EventBody.ToArray(), Is.EqualTo(Encoding.ASCII.GetBytes(body)));
        Assert.That(job.JobUuid, Is.Not.Null.And.Not.Empty);
        Assert.That(job["Job-Command"], Is.EqualTo("originate"));
        Assert.That(job.EventHeaders.Contains("Content-Length"), Is.False, "the inner Content-Length is framing, not a header");
        Assert.That(job.EventHeaders.Select(h => h.Name), Does.Not.Contain("-ERR USER_BUSY"));

        // The command reply to the bgapi carried the same Job-UUID.
        var replies = Decoded(name, "inbound").OfType<CommandReply>().Select(r => r.JobUuid);
        Assert.That(replies, Does.Contain(job.JobUuid));
    }

    [Test]
    public void TheUtf8CallerNameIsDecoded()
    {
        const string uuid = "2eb9f577-987e-4ec1-98da-1d51b3b0f590";
        var events = Decoded("inbound-basics", "inbound").OfType<EslEvent>().Where(e => e.UniqueId == uuid).ToList();

        Assert.That(events, Has.Count.GreaterThan(3));
        var create = events.First(e => e.EventName == "CHANNEL_CREATE");
        Assert.That(create["Caller-Caller-ID-Name"], Is.EqualTo("José Müller"));
        Assert.That(create.EventHeaders.GetRaw("Caller-Caller-ID-Name"), Is.EqualTo("Jos%C3%A9%20M%C3%BCller"));

        // Wherever FreeSWITCH wrote the encoded name, it decodes to the UTF-8 name.
        var encoded = events.SelectMany(e => e.EventHeaders.Select((h, i) => (Raw: e.EventHeaders.GetRawValue(i), h.Value)))
            .Where(p => p.Raw == "Jos%C3%A9%20M%C3%BCller").ToList();
        Assert.That(encoded, Has.Count.GreaterThan(10));
        Assert.That(encoded.Select(p => p.Value), Has.All.EqualTo("José Müller"));
        Assert.That(
            events.Where(e => e.EventHeaders.Contains("variable_origination_caller_id_name")).Select(e => e["variable_origination_caller_id_name"]),
            Is.Not.Empty.And.All.EqualTo("José Müller"));
    }

    [Test]
    public void JsonEventsAreParsed()
    {
        var (aLeg, _) = OriginateOf("call-json");
        var events = Decoded("call-json", "outbound1").OfType<EslEvent>().ToList();

        Assert.That(events, Has.Count.GreaterThan(5));
        Assert.That(events.Select(e => e.Format), Has.All.EqualTo(EslEventFormat.Json));
        Assert.That(events.Select(e => e.ContentType), Has.All.EqualTo("text/event-json"));
        var names = events.Select(e => e.EventName).ToList();
        Assert.That(names, Does.Contain("CHANNEL_ANSWER").And.Contain("CHANNEL_BRIDGE").And.Contain("CHANNEL_HANGUP").And.Contain("CHANNEL_HANGUP_COMPLETE").And.Contain("CHANNEL_EXECUTE_COMPLETE"));
        Assert.That(events.Select(e => e.UniqueId), Has.All.Not.Null);
        Assert.That(events.Select(e => e.UniqueId), Does.Contain(aLeg));
        Assert.That(events.Select(e => e.EventHeaders.Count), Has.All.GreaterThan(20));

        var complete = events.Where(e => e.EventName == "CHANNEL_HANGUP_COMPLETE").ToList();
        Assert.That(complete, Is.Not.Empty);
        foreach (var e in complete)
        {
            var causes = e.EventHeaders.GetAll("Hangup-Cause").ToList();
            Assert.That(causes, Has.Count.EqualTo(2), "FreeSWITCH writes Hangup-Cause twice, JSON too");
            Assert.That(e["Hangup-Cause"], Is.EqualTo(causes[0]));
            Assert.That(e["hangup-cause"], Is.EqualTo("NORMAL_CLEARING"));
        }

        // Compare with an independent JSON read: the first duplicate wins, values are unescaped.
        foreach (var e in events)
        {
            using var doc = System.Text.Json.JsonDocument.Parse(e.Body);
            var first = doc.RootElement.EnumerateObject().Where(p => p.Value.ValueKind == System.Text.Json.JsonValueKind.String && p.Name != "_body")
                .GroupBy(p => p.Name, StringComparer.OrdinalIgnoreCase).Select(g => (g.Key, g.First().Value.GetString()));
            foreach (var (key, value) in first)
            {
                if (key != "Content-Length")
                {
                    Assert.That(e[key], Is.EqualTo(value), $"{e.EventName} {key}");
                }
            }
        }
    }

    [Test]
    public void JsonEventsOnTheInboundConnectionAreParsedToo()
    {
        var events = Decoded("inbound-basics", "inbound").OfType<EslEvent>().Where(e => e.Format == EslEventFormat.Json).ToList();

        Assert.That(events, Is.Not.Empty);
        Assert.That(events.Select(e => e.EventName), Does.Contain("BACKGROUND_JOB").And.Contain("CHANNEL_HANGUP_COMPLETE"));
        var job = events.Single(e => e.EventBodyText == "-ERR NO_ANSWER\n");
        Assert.That(job.EventName, Is.EqualTo("BACKGROUND_JOB"));
        Assert.That(job.EventHeaders.Contains("_body"), Is.False);
        Assert.That(job.EventHeaders.Contains("Content-Length"), Is.False);
    }

    [Test]
    public void UuidExistsAnswersTrueWithoutANewline()
    {
        var responses = Decoded("socket-drop", "inbound").OfType<ApiResponse>().ToList();

        Assert.That(responses, Has.Count.GreaterThanOrEqualTo(2));
        foreach (var response in responses.Take(2))
        {
            Assert.That(response.ContentType, Is.EqualTo("api/response"));
            Assert.That(response.BodyText, Is.EqualTo("true"));
            Assert.That(response.Body.ToArray(), Is.EqualTo("true"u8.ToArray()));
            Assert.That(response.Headers["Content-Length"], Is.EqualTo("4"));
        }

        var basics = Decoded("inbound-basics", "inbound").OfType<ApiResponse>().ToList();
        Assert.That(basics.Select(r => r.BodyText), Does.Contain("false"));
        Assert.That(basics.Last(r => r.BodyText.StartsWith("-ERR", StringComparison.Ordinal)).IsError, Is.True);
    }

    private static IEnumerable<TestCaseData> LingerCaptures() =>
        new[] { "call-barge", "call-busy", "call-json", "call-remote-hangup" }.Select(n => new TestCaseData(n).SetName("Linger_" + n));

    [TestCaseSource(nameof(LingerCaptures))]
    public void TheLingerNoticeIsRecognised(string name)
    {
        var (aLeg, _) = OriginateOf(name);
        var notices = Decoded(name, "outbound1").OfType<DisconnectNotice>().ToList();

        var linger = notices.Where(n => n.IsLinger).ToList();
        Assert.That(linger, Has.Count.EqualTo(1));
        Assert.Multiple(() =>
        {
            Assert.That(linger[0].Disposition, Is.EqualTo("linger"));
            Assert.That(linger[0].LingerTime, Is.EqualTo(30));
            Assert.That(linger[0].ControlledSessionUuid, Is.EqualTo(aLeg));
            Assert.That(linger[0].ChannelName, Does.StartWith("loopback/"));
            Assert.That(linger[0].Body.Length, Is.Zero);
            Assert.That(linger[0].Headers["Content-Length"], Is.EqualTo("0"));
        });

        // After the controller's exit, the goodbye closes the socket.
        var last = notices[^1];
        Assert.That(last.IsLinger, Is.False);
        Assert.That(last.Disposition, Is.EqualTo("disconnect"));
        Assert.That(last.ControlledSessionUuid, Is.EqualTo(aLeg));
        Assert.That(last.BodyText, Is.EqualTo(DisconnectNotice.GoodbyeText));
        Assert.That(last.LingerTime, Is.Null);
    }

    [TestCaseSource(nameof(CaptureNames))]
    public void HangupCompleteCarriesHangupCauseTwice(string name)
    {
        var complete = Capture.Streams(name, "fs").Values.SelectMany(DecodeHarness.DecodeFrames).OfType<EslEvent>()
            .Where(e => e.EventName == "CHANNEL_HANGUP_COMPLETE").ToList();

        Assert.That(complete, Is.Not.Empty);
        foreach (var e in complete)
        {
            var all = e.EventHeaders.GetAll("Hangup-Cause").ToList();
            Assert.That(all, Has.Count.EqualTo(2), $"{name} {e.UniqueId}");
            Assert.That(all[1], Is.EqualTo(all[0]));
            Assert.That(e["Hangup-Cause"], Is.EqualTo(all[0]));
            Assert.That(e.EventHeaders.IndexOf("Hangup-Cause"), Is.EqualTo(e.EventHeaders.IndexOf("Event-Sequence") + 1), "the first copy follows Event-Sequence");
        }
    }

    [TestCaseSource(nameof(CaptureNames))]
    public void EveryEventHeaderAnswersEveryLookUpConsistently(string name)
    {
        var arrays = 0;
        foreach (var e in Capture.Streams(name, "fs").Values.SelectMany(DecodeHarness.DecodeFrames).OfType<EslEvent>())
        {
            Assert.That(e.EventName, Is.Not.Null.And.Not.Empty);
            Assert.That(e.EventHeaders[0].Name, Is.EqualTo("Event-Name"));
            foreach (var header in e.EventHeaders)
            {
                Assert.That(e.EventHeaders.GetAll(header.Name), Does.Contain(header.Value));
                var values = e.EventHeaders.GetValues(header.Name);
                var first = e[header.Name.ToUpperInvariant()]!;
                if (first.StartsWith("ARRAY::", StringComparison.Ordinal))
                {
                    arrays++;
                    Assert.That(string.Join("|:", values), Is.EqualTo(first["ARRAY::".Length..]));
                }
                else
                {
                    Assert.That(values, Is.EqualTo(new[] { first }));
                }
            }
        }

        TestContext.Out.WriteLine($"{name}: {arrays} ARRAY:: values");
    }

    // ---------------------------------------------------------------- helpers

    private static readonly Dictionary<string, List<EslMessage>> Cache = new();

    private static List<EslMessage> Decoded(string name, string conn)
    {
        lock (Cache)
        {
            var key = name + "/" + conn;
            if (!Cache.TryGetValue(key, out var messages))
            {
                messages = DecodeHarness.DecodeFrames(Capture.Streams(name, "fs")[conn]);
                Cache[key] = messages;
            }

            return messages;
        }
    }

    /// <summary>The A-leg uuid and dial id from the controller's inbound bgapi originate.</summary>
    private static (string ALeg, string DialId) OriginateOf(string name)
    {
        var bgapi = DecodeHarness.DecodeCommands(Capture.Streams(name, "app")["inbound"]).First(c => c.Verb == "bgapi");
        var vars = bgapi.Arguments[(bgapi.Arguments.IndexOf('{') + 1)..bgapi.Arguments.IndexOf('}')]
            .Split(',').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        return (vars["origination_uuid"], vars["dial_id"]);
    }

    private sealed record Fingerprint(Type Type, string? ContentType, byte[] Wire, string? EventName, int EventHeaderCount, byte[]? EventBody);

    private static List<Fingerprint> Fingerprints(IEnumerable<EslMessage> messages) => messages.Select(Print).ToList();

    private static Fingerprint Print(EslMessage m) => m is EslEvent e
        ? new Fingerprint(m.GetType(), m.ContentType, m.Wire.ToArray(), e.EventName, e.EventHeaders.Count, e.EventBody.ToArray())
        : new Fingerprint(m.GetType(), m.ContentType, m.Wire.ToArray(), null, 0, null);

    private static void AssertSame(List<Fingerprint> expected, List<EslMessage> actual, string where)
    {
        Assert.That(actual, Has.Count.EqualTo(expected.Count), where);
        for (var i = 0; i < expected.Count; i++)
        {
            var x = expected[i];
            var a = actual[i];
            var ok = a.GetType() == x.Type && a.ContentType == x.ContentType && a.Wire.Span.SequenceEqual(x.Wire);
            if (ok && a is EslEvent e)
            {
                ok = e.EventName == x.EventName && e.EventHeaders.Count == x.EventHeaderCount && e.EventBody.Span.SequenceEqual(x.EventBody);
            }

            if (!ok)
            {
                Assert.That(Print(a), Is.EqualTo(x).Using<Fingerprint>(SameFingerprint), $"{where}: message {i}");
            }
        }
    }

    private static bool SameFingerprint(Fingerprint a, Fingerprint b) =>
        a.Type == b.Type && a.ContentType == b.ContentType && a.Wire.AsSpan().SequenceEqual(b.Wire) && a.EventName == b.EventName &&
        a.EventHeaderCount == b.EventHeaderCount && (a.EventBody ?? []).AsSpan().SequenceEqual(b.EventBody ?? []);

    /// <summary>Random cut points: some uniform, some a few bytes around frame starts and header ends.</summary>
    private static List<int> RandomCuts(Random random, byte[] bytes, List<Fingerprint> frames)
    {
        var marks = new List<int>();
        var offset = 0;
        foreach (var f in frames)
        {
            marks.Add(offset);
            marks.Add(offset + f.Wire.AsSpan().IndexOf("\n\n"u8) + 1);
            offset += f.Wire.Length;
        }

        var cuts = new SortedSet<int>();
        var count = random.Next(1, 48);
        for (var i = 0; i < count; i++)
        {
            var cut = random.Next(3) switch
            {
                0 => random.Next(1, bytes.Length),
                _ => marks[random.Next(marks.Count)] + random.Next(-2, 3),
            };
            if (cut > 0 && cut < bytes.Length)
            {
                cuts.Add(cut);
                if (random.Next(4) == 0 && cut + 1 < bytes.Length)
                {
                    cuts.Add(cut + 1); // a 1-byte read
                }
            }
        }

        return cuts.ToList();
    }

    /// <summary>A minimal framer written from esl-protocol.md §1.1, independent of the codec.</summary>
    private static List<byte[]> ReferenceFrames(byte[] bytes)
    {
        var frames = new List<byte[]>();
        var pos = 0;
        while (pos < bytes.Length)
        {
            var text = Encoding.Latin1.GetString(bytes, pos, bytes.Length - pos);
            var end = text.IndexOf("\n\n", StringComparison.Ordinal);
            Assert.That(end, Is.GreaterThan(0), "every captured frame has a header block");
            var length = 0;
            foreach (var line in text[..end].Split('\n'))
            {
                if (line.StartsWith("Content-Length: ", StringComparison.OrdinalIgnoreCase))
                {
                    length = int.Parse(line["Content-Length: ".Length..]);
                    break;
                }
            }

            var total = end + 2 + length;
            frames.Add(bytes[pos..(pos + total)]);
            pos += total;
        }

        return frames;
    }

    private static int StableSeed(string text)
    {
        var hash = 17;
        foreach (var c in text)
        {
            hash = unchecked((hash * 31) + c);
        }

        return hash;
    }
}
