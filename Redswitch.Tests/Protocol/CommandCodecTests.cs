using System.Text;
using Redswitch.Protocol;
using Redswitch.Protocol.Messages;

namespace Redswitch.Tests.Protocol;

/// <summary>
/// The app → FreeSWITCH direction: every command a controller sent in the captures decodes
/// through <see cref="Redswitch.Protocol.Framing.EslCommandDecoder"/>, and the
/// <see cref="EslCommands"/> builders reproduce it byte for byte. Command lines are parsed the
/// way FreeSWITCH's read_packet does (esl-protocol.md §1.7).
/// </summary>
public class CommandCodecTests
{
    public static IEnumerable<string> CaptureNames => Capture.Names;

    // ---------------------------------------------------------------- captures

    [TestCaseSource(nameof(CaptureNames))]
    public void CapturedCommandsDecodeToTheirLinesAndHeaders(string name)
    {
        foreach (var (conn, bytes) in Capture.Streams(name, "app"))
        {
            var expected = SplitBlocks(bytes);
            var whole = DecodeHarness.DecodeCommands(bytes);
            var byteByByte = DecodeHarness.DecodeCommands(bytes.Select(b => new[] { b }));
            var asRecorded = DecodeHarness.DecodeCommands(Capture.Reads(name, conn, "app"));

            Assert.That(whole, Has.Count.EqualTo(expected.Count), $"{name}/{conn}");
            for (var i = 0; i < expected.Count; i++)
            {
                var (line, headers, wire) = expected[i];
                var where = $"{name}/{conn} command {i} '{line}'";
                foreach (var command in new[] { whole[i], byteByByte[i], asRecorded[i] })
                {
                    Assert.That(command.Line, Is.EqualTo(line), where);
                    Assert.That(command.Verb, Is.EqualTo(line.Split(' ')[0].ToLowerInvariant()), where);
                    Assert.That(command.Arguments, Is.EqualTo(line.Contains(' ') ? line[(line.IndexOf(' ') + 1)..] : string.Empty), where);
                    Assert.That(command.Headers.Select(h => (h.Name, h.Value)), Is.EqualTo(headers), where);
                    Assert.That(command.Body.Length, Is.Zero, where);
                    Assert.That(command.Wire.ToArray(), Is.EqualTo(wire), where);
                }
            }

            Assert.That(byteByByte, Has.Count.EqualTo(expected.Count), $"{name}/{conn} one byte at a time");
            Assert.That(asRecorded, Has.Count.EqualTo(expected.Count), $"{name}/{conn} as recorded");
        }
    }

    [TestCaseSource(nameof(CaptureNames))]
    public void CapturedCommandsAreRebuiltByteForByteWithTheBuilders(string name)
    {
        var used = new HashSet<string>();
        foreach (var (conn, bytes) in Capture.Streams(name, "app"))
        {
            var rebuilt = new List<byte>();
            foreach (var command in DecodeHarness.DecodeCommands(bytes))
            {
                var (kind, fresh) = Rebuild(command);
                used.Add(kind);
                Assert.That(Encoding.UTF8.GetString(fresh.Wire.Span), Is.EqualTo(Encoding.UTF8.GetString(command.Wire.Span)), $"{name}/{conn} {kind}");
                Assert.That(fresh.Line, Is.EqualTo(command.Line));
                rebuilt.AddRange(fresh.Wire.ToArray());
            }

            Assert.That(rebuilt.ToArray(), Is.EqualTo(bytes), $"{name}/{conn}: the rebuilt commands are the whole captured stream");
        }

        Assert.That(used, Does.Contain("auth").And.Contain("exit"), name);
    }

    [Test]
    public void TheCapturesExerciseEveryBuilderTheControllerUses()
    {
        var used = new HashSet<string>();
        foreach (var name in Capture.Names)
        {
            foreach (var bytes in Capture.Streams(name, "app").Values)
            {
                foreach (var command in DecodeHarness.DecodeCommands(bytes))
                {
                    used.Add(Rebuild(command).Kind);
                }
            }
        }

        Assert.That(used, Is.SupersetOf(new[]
        {
            "auth", "event", "bgapi", "bgapi+job-uuid", "filter", "linger", "connect", "exit", "api",
            "sendmsg-execute", "sendmsg-hangup", "noevents",
        }));
    }

    [Test]
    public void TheClientChosenJobUuidTravelsAsAHeader()
    {
        var bytes = Capture.Streams("inbound-basics", "app")["inbound"];
        var bgapi = DecodeHarness.DecodeCommands(bytes).Single(c => c.Headers.Contains("Job-UUID"));

        Assert.That(bgapi.Verb, Is.EqualTo("bgapi"));
        Assert.That(bgapi.Headers["job-uuid"], Is.EqualTo("11111111-2222-3333-4444-555555555555"));
        Assert.That(bgapi.Arguments, Does.Contain("origination_caller_id_name='José Müller'"), "command lines are UTF-8");
        Assert.That(
            EslCommands.BgApi(bgapi.Arguments, "11111111-2222-3333-4444-555555555555").Wire.ToArray(),
            Is.EqualTo(bgapi.Wire.ToArray()));
    }

    // ---------------------------------------------------------------- builders: exact bytes

    private static IEnumerable<TestCaseData> BuilderBytes()
    {
        TestCaseData Case(string name, Func<EslCommand> build, string wire) =>
            new TestCaseData(build, wire).SetName("Builder_" + name);

        yield return Case("Auth", () => EslCommands.Auth("ClueCon"), "auth ClueCon\n\n");
        yield return Case("Api", () => EslCommands.Api("uuid_exists x"), "api uuid_exists x\n\n");
        yield return Case("BgApi", () => EslCommands.BgApi("status"), "bgapi status\n\n");
        yield return Case("BgApiJobUuid", () => EslCommands.BgApi("status", "j-1"), "bgapi status\nJob-UUID: j-1\n\n");
        yield return Case("EventPlain", () => EslCommands.Event(EslEventFormat.Plain, "DTMF", "CHANNEL_ANSWER"), "event plain DTMF CHANNEL_ANSWER\n\n");
        yield return Case("EventJson", () => EslCommands.Event(EslEventFormat.Json, new List<string> { "ALL" }), "event json ALL\n\n");
        yield return Case("EventXml", () => EslCommands.Event(EslEventFormat.Xml, "HEARTBEAT"), "event xml HEARTBEAT\n\n");
        yield return Case("NixEvent", () => EslCommands.NixEvent(new[] { "DTMF", "HEARTBEAT" }), "nixevent DTMF HEARTBEAT\n\n");
        yield return Case("NoEvents", EslCommands.NoEvents, "noevents\n\n");
        yield return Case("Filter", () => EslCommands.Filter("Unique-ID", "a b"), "filter Unique-ID a b\n\n");
        yield return Case("FilterDelete", () => EslCommands.FilterDelete("Unique-ID"), "filter delete Unique-ID\n\n");
        yield return Case("FilterDeleteValue", () => EslCommands.FilterDelete("Unique-ID", "u1"), "filter delete Unique-ID u1\n\n");
        yield return Case("MyEvents", () => EslCommands.MyEvents(), "myevents\n\n");
        yield return Case("MyEventsJson", () => EslCommands.MyEvents(EslEventFormat.Json), "myevents json\n\n");
        yield return Case("MyEventsUuid", () => EslCommands.MyEvents("u1", EslEventFormat.Plain), "myevents u1 plain\n\n");
        yield return Case("Linger", () => EslCommands.Linger(), "linger\n\n");
        yield return Case("Linger30", () => EslCommands.Linger(30), "linger 30\n\n");
        yield return Case("NoLinger", EslCommands.NoLinger, "nolinger\n\n");
        yield return Case("Connect", EslCommands.Connect, "connect\n\n");
        yield return Case("Resume", EslCommands.Resume, "resume\n\n");
        yield return Case("Exit", EslCommands.Exit, "exit\n\n");
        yield return Case("GetVar", () => EslCommands.GetVar("dial_id"), "getvar dial_id\n\n");
        yield return Case("Log", () => EslCommands.Log("debug"), "log debug\n\n");
        yield return Case("NoLog", EslCommands.NoLog, "nolog\n\n");
        yield return Case(
            "SendMsgExecute",
            () => EslCommands.SendMsgExecute(null, "bridge", "loopback/1000/phones"),
            "sendmsg\ncall-command: execute\nexecute-app-name: bridge\nexecute-app-arg: loopback/1000/phones\n\n");
        yield return Case(
            "SendMsgExecuteUuidLockEventUuid",
            () => EslCommands.SendMsgExecute("u1", "playback", "tone_stream://%(100,0,350)", eventLock: true, eventUuid: "e1"),
            "sendmsg u1\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: tone_stream://%(100,0,350)\nevent-lock: true\nEvent-UUID: e1\n\n");
        yield return Case("SendMsgExecuteNoArg", () => EslCommands.SendMsgExecute(null, "answer"), "sendmsg\ncall-command: execute\nexecute-app-name: answer\n\n");
        yield return Case("SendMsgHangup", () => EslCommands.SendMsgHangup(null, "NORMAL_CLEARING"), "sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING\n\n");
        yield return Case("SendMsgHangupUuid", () => EslCommands.SendMsgHangup("u1", "USER_BUSY"), "sendmsg u1\ncall-command: hangup\nhangup-cause: USER_BUSY\n\n");
        yield return Case(
            "SendEventBody",
            () => EslCommands.SendEvent("CUSTOM", new[] { ("Event-Subclass", "x::y") }, "hé"),
            "sendevent CUSTOM\nEvent-Subclass: x::y\nContent-Length: 3\n\nhé");
        yield return Case("RawCreate", () => EslCommand.Create("api status"), "api status\n\n");
    }

    [TestCaseSource(nameof(BuilderBytes))]
    public void BuildersWriteTheExactBytesAndTheDecoderReadsThemBack(Func<EslCommand> build, string wire)
    {
        var command = build();
        var expected = Encoding.UTF8.GetBytes(wire);

        Assert.That(Encoding.UTF8.GetString(command.Wire.Span), Is.EqualTo(wire));
        Assert.That(command.WireLength, Is.EqualTo(expected.Length));

        var decoded = DecodeHarness.DecodeCommands(expected.Select(b => new[] { b }));
        Assert.That(decoded, Has.Count.EqualTo(1));
        Assert.That(decoded[0].Line, Is.EqualTo(command.Line));
        Assert.That(decoded[0].Headers.Select(h => (h.Name, h.Value)), Is.EqualTo(command.Headers.Select(h => (h.Name, h.Value))));
        Assert.That(decoded[0].Body.ToArray(), Is.EqualTo(command.Body.ToArray()));
    }

    // ---------------------------------------------------------------- builders: no injection

    private static IEnumerable<TestCaseData> Injections()
    {
        TestCaseData Case(string name, Func<EslCommand> build) => new TestCaseData(build).SetName("Refused_" + name);

        foreach (var (label, bad) in new[] { ("LF", "x\nexit"), ("CR", "x\rexit"), ("CRLF", "x\r\n\r\nexit"), ("TrailingLF", "x\n") })
        {
            yield return Case("Auth_" + label, () => EslCommands.Auth(bad));
            yield return Case("Api_" + label, () => EslCommands.Api(bad));
            yield return Case("BgApi_" + label, () => EslCommands.BgApi(bad));
            yield return Case("BgApiJobUuid_" + label, () => EslCommands.BgApi("status", bad));
            yield return Case("Event_" + label, () => EslCommands.Event(EslEventFormat.Plain, "DTMF", bad));
            yield return Case("NixEvent_" + label, () => EslCommands.NixEvent(new[] { bad }));
            yield return Case("FilterHeader_" + label, () => EslCommands.Filter(bad, "v"));
            yield return Case("FilterValue_" + label, () => EslCommands.Filter("Unique-ID", bad));
            yield return Case("FilterDeleteHeader_" + label, () => EslCommands.FilterDelete(bad));
            yield return Case("FilterDeleteValue_" + label, () => EslCommands.FilterDelete("Unique-ID", bad));
            yield return Case("MyEventsUuid_" + label, () => EslCommands.MyEvents(bad));
            yield return Case("GetVar_" + label, () => EslCommands.GetVar(bad));
            yield return Case("Log_" + label, () => EslCommands.Log(bad));
            yield return Case("SendMsgExecuteUuid_" + label, () => EslCommands.SendMsgExecute(bad, "bridge", "x"));
            yield return Case("SendMsgExecuteApp_" + label, () => EslCommands.SendMsgExecute(null, bad, "x"));
            yield return Case("SendMsgExecuteEventUuid_" + label, () => EslCommands.SendMsgExecute(null, "bridge", "x", eventUuid: bad));
            yield return Case("SendMsgHangupUuid_" + label, () => EslCommands.SendMsgHangup(bad));
            yield return Case("SendMsgHangupCause_" + label, () => EslCommands.SendMsgHangup(null, bad));
            yield return Case("SendEventName_" + label, () => EslCommands.SendEvent(bad, Array.Empty<(string, string)>()));
            yield return Case("SendEventHeaderValue_" + label, () => EslCommands.SendEvent("CUSTOM", new[] { ("X-H", bad) }));
            yield return Case("SendEventHeaderName_" + label, () => EslCommands.SendEvent("CUSTOM", new[] { (bad, "v") }));
            yield return Case("CreateLine_" + label, () => EslCommand.Create("api " + bad));
            yield return Case("CreateHeaderValue_" + label, () => EslCommand.Create("sendmsg", new[] { ("call-command", bad) }));
        }

        yield return Case("EventNoNames", () => EslCommands.Event(EslEventFormat.Plain, Array.Empty<string>()));
        yield return Case("FilterHeaderWithSpace", () => EslCommands.Filter("Unique ID", "v"));
        yield return Case("SendMsgUuidWithSpace", () => EslCommands.SendMsgHangup("a b"));
        yield return Case("CreateEmptyLine", () => EslCommand.Create(string.Empty));
        yield return Case("CreateHeaderNameWithColon", () => EslCommand.Create("sendmsg", new[] { ("a:b", "v") }));
    }

    [TestCaseSource(nameof(Injections))]
    public void ArgumentsThatWouldStartAnotherCommandAreRefused(Func<EslCommand> build)
    {
        Assert.Throws<ArgumentException>(() => build());
    }

    // ---------------------------------------------------------------- body commands

    [Test]
    public void AMultiLineExecuteArgumentTravelsAsABodyAndRoundTrips()
    {
        const string arg = "line one\nexit\n\nauth x\r\nlast";
        var command = EslCommands.SendMsgExecute(null, "set", arg);
        var argBytes = Encoding.UTF8.GetBytes(arg);

        Assert.That(
            Encoding.UTF8.GetString(command.Wire.Span),
            Is.EqualTo($"sendmsg\ncall-command: execute\nexecute-app-name: set\ncontent-type: text/plain\ncontent-length: {argBytes.Length}\n\n{arg}"));

        // The body must not leak into a second command, whole or split anywhere.
        var stream = HeaderTests.Cat(command.Wire.ToArray(), EslCommands.Exit().Wire.ToArray());
        foreach (var chunks in new[] { new[] { stream }, stream.Select(b => new[] { b }).ToArray() })
        {
            var decoded = DecodeHarness.DecodeCommands(chunks);
            Assert.That(decoded.Select(c => c.Line), Is.EqualTo(new[] { "sendmsg", "exit" }));
            Assert.That(decoded[0].Body.ToArray(), Is.EqualTo(argBytes));
            Assert.That(decoded[0].BodyText, Is.EqualTo(arg));
            Assert.That(decoded[0].Headers["Content-Type"], Is.EqualTo("text/plain"));
            Assert.That(decoded[0].Headers["execute-app-name"], Is.EqualTo("set"));
            Assert.That(decoded[0].Headers.Contains("execute-app-arg"), Is.False);
        }
    }

    [TestCase(2048, false)]
    [TestCase(2049, true)]
    public void AnExecuteArgumentOver2KiBTravelsAsABody(int length, bool inBody)
    {
        var arg = new string('x', length);
        var command = EslCommands.SendMsgExecute("u1", "set", arg);
        var decoded = DecodeHarness.DecodeCommands(command.Wire.ToArray()).Single();

        Assert.That(decoded.Headers["execute-app-arg"], inBody ? Is.Null : Is.EqualTo(arg));
        Assert.That(decoded.BodyText, Is.EqualTo(inBody ? arg : string.Empty));
        Assert.That(decoded.Headers["content-length"], inBody ? Is.EqualTo(length.ToString()) : Is.Null);
    }

    [Test]
    public void AMultiByteArgumentCountsBytesNotChars()
    {
        var arg = "é\n" + new string('ü', 10);
        var command = EslCommands.SendMsgExecute(null, "set", arg);
        var decoded = DecodeHarness.DecodeCommands(HeaderTests.Cat(command.Wire.ToArray(), EslCommands.Exit().Wire.ToArray()));

        Assert.That(decoded.Select(c => c.Line), Is.EqualTo(new[] { "sendmsg", "exit" }));
        Assert.That(decoded[0].Headers["content-length"], Is.EqualTo(Encoding.UTF8.GetByteCount(arg).ToString()));
        Assert.That(decoded[0].BodyText, Is.EqualTo(arg));
    }

    [Test]
    public void ABodyWithBlankLinesAndColonsIsReadByLengthOnly()
    {
        var bytes = HeaderTests.Bytes("sendevent CUSTOM\nContent-Length: 14\n\n\n\nX: y\n\napi x\n\napi status\n\n");
        var decoded = DecodeHarness.DecodeCommands(bytes);

        Assert.That(decoded.Select(c => c.Line), Is.EqualTo(new[] { "sendevent CUSTOM", "api status" }));
        Assert.That(decoded[0].BodyText, Is.EqualTo("\n\nX: y\n\napi x\n"));
    }

    // ---------------------------------------------------------------- FreeSWITCH's tolerance (§1.7)

    private static IEnumerable<TestCaseData> TolerantInputs()
    {
        TestCaseData Case(string name, string wire, params string[] lines) => new TestCaseData(wire, lines).SetName("Tolerated_" + name);

        yield return Case("LfLf", "api status\n\n", "api status");
        yield return Case("CrLfCrLf", "api status\r\n\r\n", "api status");
        yield return Case("LfCrLf", "api status\n\r\n", "api status");
        yield return Case("CrLfLf", "api status\r\n\n", "api status");
        yield return Case("ManyTrailingCrs", "api status\r\r\r\n\r\r\n", "api status");
        yield return Case("LeadingBlankLines", "\n\n\r\n\r\napi status\n\n", "api status");
        yield return Case("LeadingCrs", "\r\r\rapi status\n\n", "api status");
        yield return Case("BlankLinesBetween", "api a\n\n\n\r\n\n\r\napi b\n\n", "api a", "api b");
        yield return Case("CrLfCommandsBackToBack", "auth ClueCon\r\n\r\nevent plain ALL\r\n\r\nexit\r\n\r\n", "auth ClueCon", "event plain ALL", "exit");
        yield return Case("MixedEndings", "api a\r\n\napi b\n\r\napi c\n\n", "api a", "api b", "api c");
        yield return Case("UpperCaseVerb", "API uuid_exists x\n\n", "API uuid_exists x");
        yield return Case("TrailingBlankLinesOnly", "exit\n\n\n\n\r\n", "exit");
    }

    [TestCaseSource(nameof(TolerantInputs))]
    public void LineEndingsAreAcceptedLikeFreeSwitch(string wire, string[] lines)
    {
        var bytes = HeaderTests.Bytes(wire);
        foreach (var chunks in new[] { new[] { bytes }, bytes.Select(b => new[] { b }).ToArray() })
        {
            var decoded = DecodeHarness.DecodeCommands(chunks);
            Assert.That(decoded.Select(c => c.Line), Is.EqualTo(lines));
            Assert.That(decoded.SelectMany(c => c.Headers), Is.Empty);
        }
    }

    [Test]
    public void CrLfHeaderLinesLoseTheirCarriageReturns()
    {
        var wire = "sendmsg u1\r\ncall-command: execute\r\nexecute-app-name: bridge\r\nexecute-app-arg: loopback/1/phones\r\n\r\n";
        var decoded = DecodeHarness.DecodeCommands(HeaderTests.Bytes(wire)).Single();

        Assert.That(decoded.Line, Is.EqualTo("sendmsg u1"));
        Assert.That(decoded.Verb, Is.EqualTo("sendmsg"));
        Assert.That(decoded.Arguments, Is.EqualTo("u1"));
        Assert.That(
            decoded.Headers.Select(h => (h.Name, h.Value)),
            Is.EqualTo(new[] { ("call-command", "execute"), ("execute-app-name", "bridge"), ("execute-app-arg", "loopback/1/phones") }));
    }

    [Test]
    public void ACrLfCommandWithABodyReadsExactlyTheBody()
    {
        var wire = "sendmsg\r\ncall-command: execute\r\nexecute-app-name: set\r\ncontent-length: 7\r\n\r\na\r\n\r\nbcapi status\r\n\r\n";
        var decoded = DecodeHarness.DecodeCommands(HeaderTests.Bytes(wire));

        Assert.That(decoded.Select(c => c.Line), Is.EqualTo(new[] { "sendmsg", "api status" }));
        Assert.That(decoded[0].BodyText, Is.EqualTo("a\r\n\r\nbc"));
        Assert.That(decoded[0].Headers["Content-Length"], Is.EqualTo("7"));
    }

    [Test]
    public void CommandHeaderValuesAreTakenLiterally()
    {
        // §1.7: FS does not URL-decode what a client sends and skips spaces, not tabs, after ':'.
        var wire = "sendevent CUSTOM\nX-B: a%20b+c\nX-C:\tx\nX-D:   d  \nX-E:\n\n";
        var decoded = DecodeHarness.DecodeCommands(HeaderTests.Bytes(wire)).Single();

        Assert.That(decoded.Headers["X-B"], Is.EqualTo("a%20b+c"));
        Assert.That(decoded.Headers["X-C"], Is.EqualTo("\tx"));
        Assert.That(decoded.Headers["X-D"], Is.EqualTo("d  "));
        Assert.That(decoded.Headers["X-E"], Is.EqualTo(string.Empty));
        Assert.That(decoded.Headers["x-b"], Is.EqualTo("a%20b+c"), "case-insensitive look-up");
    }

    [Test]
    public void ACommandLineKeepsItsUtf8AndItsInnerSpaces()
    {
        var decoded = DecodeHarness.DecodeCommands(HeaderTests.Bytes("bgapi originate {a='José  Müller'}x &park\n\n")).Single();

        Assert.That(decoded.Verb, Is.EqualTo("bgapi"));
        Assert.That(decoded.Arguments, Is.EqualTo("originate {a='José  Müller'}x &park"));
    }

    private static IEnumerable<TestCaseData> CallerContentLengths()
    {
        TestCaseData Case(string name, Func<EslCommand> build, int bodyBytes) => new TestCaseData(build, bodyBytes).SetName("CallerContentLength_" + name);

        // A caller-supplied Content-Length that does not match the body: FreeSWITCH reads by the
        // header, so the body's tail would run as the next command, or the next command would be
        // swallowed as body.
        yield return Case("ZeroWithABody", () => EslCommands.SendEvent("CUSTOM", new[] { ("Content-Length", "0") }, "api evil\n\n"), 10);
        yield return Case("ShortWithABody", () => EslCommand.Create("sendevent CUSTOM", new[] { ("content-length", "2") }, "abapi evil\n\n"u8), 12);
        yield return Case("LongWithABody", () => EslCommands.SendEvent("CUSTOM", new[] { ("Content-Length", "20") }, "abc"), 3);
        yield return Case("SetWithoutABody", () => EslCommands.SendEvent("CUSTOM", new[] { ("Content-Length", "12") }), 0);
    }

    [TestCaseSource(nameof(CallerContentLengths))]
    public void ACallerSuppliedContentLengthCannotDesynchroniseTheStream(Func<EslCommand> build, int bodyBytes)
    {
        EslCommand command;
        try
        {
            command = build();
        }
        catch (ArgumentException)
        {
            return; // refusing the mismatch is a correct answer
        }

        var stream = HeaderTests.Cat(command.Wire.ToArray(), EslCommands.Exit().Wire.ToArray());
        var decoded = DecodeHarness.DecodeCommands(stream);

        Assert.That(decoded.Select(c => c.Line), Is.EqualTo(new[] { command.Line, "exit" }), "one command, then the next one intact");
        Assert.That(decoded[0].Body.Length, Is.EqualTo(bodyBytes));
    }

    [Test]
    public void AnEncodedCommandIsDecodedIntoAnEqualCommand()
    {
        var original = EslCommands.SendMsgExecute("u1", "playback", "a\nb", eventLock: true, eventUuid: "e1");
        var decoded = DecodeHarness.DecodeCommands(original.Wire.ToArray()).Single();

        Assert.That(decoded.Wire.ToArray(), Is.EqualTo(original.Wire.ToArray()));
        Assert.That(decoded.ToString(), Is.EqualTo("sendmsg u1"));
        Assert.That(decoded.Headers["event-lock"], Is.EqualTo("true"));
        Assert.That(decoded.Headers["Event-UUID"], Is.EqualTo("e1"));
        Assert.That(decoded.BodyText, Is.EqualTo("a\nb"));
    }

    [Test]
    public void CommandStreamsGiveTheSameCommandsUnderRandomSplits()
    {
        var random = new Random(4242);
        var separators = new[] { string.Empty, "\n", "\r\n", "\r\r\n\n" };
        var built = new List<EslCommand>();
        var stream = new List<byte>();
        for (var i = 0; i < 300; i++)
        {
            var command = (i % 6) switch
            {
                0 => EslCommands.Api("uuid_exists " + i),
                1 => EslCommands.SendMsgExecute($"u{i}", "set", i % 12 == 1 ? $"multi\nline\n\n{i}" : $"x={i}", eventLock: i % 4 == 1),
                2 => EslCommands.BgApi("originate loopback/" + i, $"job-{i}"),
                3 => EslCommands.SendEvent("CUSTOM", new[] { ("X-N", i.ToString()) }, i % 2 == 1 ? $"body\r\n\r\n{i}" : null),
                4 => EslCommands.SendMsgHangup(null, "NORMAL_CLEARING"),
                _ => EslCommands.Filter("Unique-ID", $"u{i}"),
            };
            built.Add(command);
            stream.AddRange(Encoding.ASCII.GetBytes(separators[random.Next(separators.Length)]));
            var wire = Encoding.UTF8.GetString(command.Wire.Span);
            if (command.Body.IsEmpty && random.Next(3) == 0)
            {
                wire = wire.Replace("\n", "\r\n"); // CRLF line ends, as FreeSWITCH accepts them
            }

            stream.AddRange(Encoding.UTF8.GetBytes(wire));
        }

        var bytes = stream.ToArray();
        for (var i = 0; i < 300; i++)
        {
            var cuts = Enumerable.Range(0, random.Next(1, 300)).Select(_ => random.Next(1, bytes.Length)).Distinct().Order();
            var decoded = DecodeHarness.DecodeCommands(DecodeHarness.Split(bytes, cuts));

            Assert.That(decoded, Has.Count.EqualTo(built.Count), $"split {i}");
            for (var c = 0; c < built.Count; c++)
            {
                Assert.That(decoded[c].Line, Is.EqualTo(built[c].Line), $"split {i} command {c}");
                Assert.That(decoded[c].Headers.Select(h => (h.Name, h.Value)), Is.EqualTo(built[c].Headers.Select(h => (h.Name, h.Value))), $"split {i} command {c}");
                Assert.That(decoded[c].Body.ToArray(), Is.EqualTo(built[c].Body.ToArray()), $"split {i} command {c}");
            }
        }
    }

    // ---------------------------------------------------------------- encoders in a pipeline

    [Test]
    public void TheCommandEncoderWritesExactlyTheCommandBytes()
    {
        var commands = new[]
        {
            EslCommands.Auth("ClueCon"),
            EslCommands.SendMsgExecute(null, "set", "a\nb"),
            EslCommands.BgApi("status", "j-1"),
        };
        var channel = new DotNetty.Transport.Channels.Embedded.EmbeddedChannel(new Redswitch.Protocol.Framing.EslCommandEncoder());

        var written = new List<byte>();
        foreach (var command in commands)
        {
            Assert.That(channel.WriteOutbound(command), Is.True);
            var buffer = channel.ReadOutbound<DotNetty.Buffers.IByteBuffer>();
            var bytes = new byte[buffer.ReadableBytes];
            buffer.ReadBytes(bytes);
            buffer.Release();
            Assert.That(bytes, Is.EqualTo(command.Wire.ToArray()));
            written.AddRange(bytes);
        }

        Assert.That(DecodeHarness.DecodeCommands(written.ToArray()).Select(c => c.Line), Is.EqualTo(commands.Select(c => c.Line)));
        channel.FinishAndReleaseAll();
    }

    [Test]
    public void TheMessageEncoderWritesFramesTheFrameDecoderReadsBack()
    {
        var messages = new EslMessage[]
        {
            AuthRequest.Instance,
            CommandReply.Create("+OK Job-UUID: j-1", ("Job-UUID", "j-1")),
            ApiResponse.Create("true"),
            EslEvent.Create(EslEventFormat.Plain, new[] { KeyValuePair.Create("Event-Name", "BACKGROUND_JOB"), KeyValuePair.Create("Job-UUID", "j-1") }, "-ERR USER_BUSY\n"),
            DisconnectNotice.Linger("u1", "loopback/1-a", 30),
            DisconnectNotice.Goodbye("u1"),
        };
        var channel = new DotNetty.Transport.Channels.Embedded.EmbeddedChannel(new Redswitch.Protocol.Framing.EslMessageEncoder());

        var written = new List<byte>();
        foreach (var message in messages)
        {
            channel.WriteOutbound(message);
            var buffer = channel.ReadOutbound<DotNetty.Buffers.IByteBuffer>();
            var bytes = new byte[buffer.ReadableBytes];
            buffer.ReadBytes(bytes);
            buffer.Release();
            Assert.That(bytes, Is.EqualTo(message.Wire.ToArray()));
            written.AddRange(bytes);
        }

        var decoded = DecodeHarness.DecodeFrames(written.Select(b => new[] { b }));
        Assert.That(decoded.Select(m => m.GetType()), Is.EqualTo(messages.Select(m => m.GetType())));
        Assert.That(((EslEvent)decoded[3]).EventBodyText, Is.EqualTo("-ERR USER_BUSY\n"));
        Assert.That(((DisconnectNotice)decoded[4]).LingerTime, Is.EqualTo(30));
        Assert.That(((CommandReply)decoded[1]).JobUuid, Is.EqualTo("j-1"));
        channel.FinishAndReleaseAll();
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>Rebuilds a decoded controller command with the matching builder.</summary>
    private static (string Kind, EslCommand Command) Rebuild(EslCommand command)
    {
        var args = command.Arguments;
        switch (command.Verb)
        {
            case "auth":
                return ("auth", EslCommands.Auth(args));
            case "api":
                return ("api", EslCommands.Api(args));
            case "bgapi":
                var job = command.Headers["Job-UUID"];
                return (job is null ? "bgapi" : "bgapi+job-uuid", EslCommands.BgApi(args, job));
            case "event":
                var words = args.Split(' ');
                var format = Enum.Parse<EslEventFormat>(words[0], ignoreCase: true);
                return ("event", EslCommands.Event(format, words[1..]));
            case "filter":
                var space = args.IndexOf(' ');
                return ("filter", EslCommands.Filter(args[..space], args[(space + 1)..]));
            case "linger":
                return ("linger", args.Length == 0 ? EslCommands.Linger() : EslCommands.Linger(int.Parse(args)));
            case "connect":
                return ("connect", EslCommands.Connect());
            case "exit":
                return ("exit", EslCommands.Exit());
            case "noevents":
                return ("noevents", EslCommands.NoEvents());
            case "sendmsg":
                var uuid = args.Length == 0 ? null : args;
                return command.Headers["call-command"] switch
                {
                    "execute" => ("sendmsg-execute", EslCommands.SendMsgExecute(uuid, command.Headers["execute-app-name"]!, command.Headers["execute-app-arg"])),
                    "hangup" => ("sendmsg-hangup", EslCommands.SendMsgHangup(uuid, command.Headers["hangup-cause"]!)),
                    var other => throw new AssertionException($"unexpected call-command {other}"),
                };
            default:
                throw new AssertionException($"no builder for '{command.Line}'");
        }
    }

    /// <summary>
    /// An independent reading of a capture's command stream (it has no bodies): blocks end at
    /// "\n\n", the first line is the command, the rest are "Name: value".
    /// </summary>
    private static List<(string Line, List<(string Name, string Value)> Headers, byte[] Wire)> SplitBlocks(byte[] bytes)
    {
        var result = new List<(string, List<(string, string)>, byte[])>();
        var start = 0;
        while (start < bytes.Length)
        {
            var end = bytes.AsSpan(start).IndexOf("\n\n"u8);
            Assert.That(end, Is.GreaterThanOrEqualTo(0), "a captured command block ends with an empty line");
            var wire = bytes[start..(start + end + 2)];
            var lines = Encoding.UTF8.GetString(bytes, start, end).Split('\n');
            var headers = lines[1..].Select(l => (l[..l.IndexOf(':')], l[(l.IndexOf(':') + 2)..])).ToList();
            result.Add((lines[0], headers, wire));
            start += end + 2;
        }

        return result;
    }
}
