using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using DotNetty.Buffers;
using DotNetty.Transport.Channels.Embedded;
using Redswitch.Protocol.Framing;
using Redswitch.Protocol.Messages;
using Redswitch.Simulator;

namespace Redswitch.Tests.Simulator;

/// <summary>
/// Fidelity: replays the controller side of every captured scenario against the simulator over real loopback
/// sockets and compares, per connection, the replies, the BACKGROUND_JOB results and, per leg (both halves of
/// loopback calls included), the event sequence and the header names of every single event with its counterpart
/// in what the real FreeSWITCH sent.
/// </summary>
[TestFixture, CancelAfter(60000)]
public class CaptureReplayTests
{
    public static IEnumerable<string> Scenarios() =>
        ["inbound-basics", "call-barge", "call-busy", "call-remote-hangup", "call-json", "socket-drop", "cancel-ringing"];

    private static readonly Regex Uuid = new("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", RegexOptions.Compiled);

    internal sealed record Rec(string Conn, string From, byte[] Bytes);

    /// <summary>What the controller had received on every connection before sending a command.</summary>
    internal sealed record Checkpoint(string Conn, string Command, Dictionary<string, List<string>> Seen);

    internal static List<Rec> Load(string name)
    {
        var path = Path.Combine(TestContext.CurrentContext.TestDirectory, "Captures", name + ".jsonl");
        var list = new List<Rec>();
        foreach (var line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            list.Add(new Rec(r.GetProperty("conn").GetString()!, r.GetProperty("from").GetString()!, Convert.FromBase64String(r.GetProperty("b64").GetString()!)));
        }
        return list;
    }

    /// <summary>Signature of a frame for progress tracking: replies and notices by kind, events by name and leg uuid.</summary>
    internal static string? Signature(EslMessage m) => m switch
    {
        EslEvent e when e.EventName == "BACKGROUND_JOB" => "BACKGROUND_JOB",
        // the far halves of loopback calls get random uuids: known by their channel name
        EslEvent e when (e["Channel-Name"] ?? "").EndsWith("-b", StringComparison.Ordinal) => $"{e.EventName}@{e["Channel-Name"]}",
        EslEvent e => $"{e.EventName}/{e.UniqueId}",
        CommandReply or ApiResponse => "reply",
        DisconnectNotice d => "notice/" + d.Disposition,
        AuthRequest => "auth",
        _ => null,
    };

    internal static (List<Checkpoint> Steps, Dictionary<string, List<EslMessage>> Frames) Analyse(List<Rec> recs)
    {
        var decoders = new Dictionary<string, EmbeddedChannel>();
        var frames = new Dictionary<string, List<EslMessage>>();
        var appBuf = new Dictionary<string, StringBuilder>();
        var steps = new List<Checkpoint>();
        foreach (var r in recs)
        {
            if (r.From == "fs")
            {
                if (!decoders.TryGetValue(r.Conn, out var d)) decoders[r.Conn] = d = new EmbeddedChannel(new EslFrameDecoder());
                d.WriteInbound(Unpooled.CopiedBuffer(r.Bytes));
                object? m;
                var list = frames.TryGetValue(r.Conn, out var l) ? l : frames[r.Conn] = new();
                while ((m = d.ReadInbound<object>()) != null) list.Add((EslMessage)m);
                continue;
            }
            var sb = appBuf.TryGetValue(r.Conn, out var b) ? b : appBuf[r.Conn] = new StringBuilder();
            sb.Append(Encoding.UTF8.GetString(r.Bytes));
            var text = sb.ToString();
            int idx;
            while ((idx = text.IndexOf("\n\n", StringComparison.Ordinal)) >= 0)
            {
                var cmd = text[..idx];
                text = text[(idx + 2)..];
                var seen = frames.ToDictionary(kv => kv.Key, kv => kv.Value.Select(Signature).OfType<string>().ToList());
                steps.Add(new Checkpoint(r.Conn, cmd, seen));
            }
            sb.Clear().Append(text);
        }
        return (steps, frames);
    }

    private static bool Covers(List<string> have, List<string> need)
    {
        var counts = have.GroupBy(x => x).ToDictionary(g => g.Key, g => g.Count());
        foreach (var g in need.GroupBy(x => x))
            if (!counts.TryGetValue(g.Key, out var c) || c < g.Count()) return false;
        return true;
    }

    [TestCaseSource(nameof(Scenarios))]
    public async Task ReplayMatchesCapture(string scenario)
    {
        var recs = Load(scenario);
        var (steps, captured) = Analyse(recs);
        await using var sim = await SimulatorHost.StartAsync(new SimulatorOptions { Port = 0, HeartbeatInterval = null });
        await using var outbound = new OutboundTestServer();
        var clients = new Dictionary<string, EslTestClient>();
        Task<EslTestClient>? accepting = null;
        var closedByController = new HashSet<string>();
        var lastCmdIndex = steps.Select((s, i) => (s.Conn, i)).GroupBy(x => x.Conn).ToDictionary(g => g.Key, g => g.Max(x => x.i));

        async Task<EslTestClient> Client(string conn)
        {
            if (clients.TryGetValue(conn, out var c)) return c;
            if (conn.StartsWith("outbound", StringComparison.Ordinal))
            {
                accepting ??= outbound.AcceptAsync();
                c = await accepting;
                accepting = null;
            }
            else c = await EslTestClient.ConnectAsync(sim.Port);
            clients[conn] = c;
            return c;
        }

        List<string> Have(string conn) =>
            clients.TryGetValue(conn, out var c) ? c.All.Select(Signature).OfType<string>().ToList() : new();

        async Task WaitSeen(Dictionary<string, List<string>> seen)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
            foreach (var (conn, need) in seen)
            {
                if (closedByController.Contains(conn)) continue;
                if (conn.StartsWith("outbound", StringComparison.Ordinal) || !clients.ContainsKey(conn)) await Client(conn);
                while (!Covers(Have(conn), need))
                {
                    if (DateTime.UtcNow > deadline)
                        Assert.Fail($"{scenario}: {conn} never received {string.Join(", ", need.Except(Have(conn)))}; got {string.Join(", ", Have(conn))}");
                    await Task.Delay(10);
                }
            }
        }

        for (int i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            await WaitSeen(step.Seen);
            // a controller connection without 'exit' was closed by the controller after its last command (socket-drop)
            foreach (var (conn, last) in lastCmdIndex)
            {
                if (last < i && !closedByController.Contains(conn) && !steps[last].Command.StartsWith("exit", StringComparison.Ordinal)
                    && clients.TryGetValue(conn, out var toClose))
                {
                    closedByController.Add(conn);
                    await toClose.DisposeAsync();
                    await Task.Delay(300);
                }
            }
            var client = await Client(step.Conn);
            var cmd = Regex.Replace(step.Command, @"127\.0\.0\.1:\d+", "127.0.0.1:" + outbound.Port);
            await client.SendRawAsync(cmd + "\n\n");
        }
        // the final state: everything the capture received
        await WaitSeen(captured.ToDictionary(kv => kv.Key, kv => kv.Value.Select(Signature).OfType<string>().ToList()));
        await Task.Delay(200);

        var problems = new List<string>();
        foreach (var (conn, capFrames) in captured)
        {
            if (!clients.TryGetValue(conn, out var c)) { problems.Add($"{conn}: never connected"); continue; }
            var simFrames = c.All.ToList();
            Compare(conn, capFrames, simFrames, problems);
        }
        foreach (var c in clients.Values) await c.DisposeAsync();
        if (problems.Count > 0) Assert.Fail($"{scenario}:\n" + string.Join("\n", problems));
    }

    [Test]
    public void ComparisonOfACaptureWithItselfFindsNothing()
    {
        foreach (var scenario in Scenarios())
        {
            var (_, captured) = Analyse(Load(scenario));
            foreach (var (conn, frames) in captured)
            {
                var problems = new List<string>();
                Compare(conn, frames, frames.ToList(), problems);
                Assert.That(problems, Is.Empty, $"{scenario} {conn}");
            }
        }
    }

    /// <summary>The comparison is per event: one header missing on one event is found, also on a later event of a kind.</summary>
    [TestCase("inbound-basics", "inbound", "CHANNEL_EXECUTE", "hangup", 0, "Application-Data")]
    [TestCase("inbound-basics", "inbound", "CHANNEL_EXECUTE_COMPLETE", "hangup", 0, "Application-Data")]
    [TestCase("cancel-ringing", "inbound", "CHANNEL_EXECUTE_COMPLETE", "sleep", 0, "Hangup-Cause")]
    [TestCase("call-barge", "outbound1", "DTMF", null, 2, "DTMF-Source")]
    [TestCase("call-json", "outbound1", "CHANNEL_HANGUP_COMPLETE", null, 1, "variable_hangup_cause")]
    public void AHeaderMissingOnOneEventIsReported(string scenario, string conn, string eventName, string? app, int nth, string header)
    {
        var (_, captured) = Analyse(Load(scenario));
        var cap = captured[conn];
        var target = cap.OfType<EslEvent>().Where(e => e.EventName == eventName && e["Application"] == app).ElementAt(nth);
        var without = EslEvent.Create(target.Format, target.EventHeaders.Where(h => h.Name != header).Select(h => new KeyValuePair<string, string>(h.Name, h.Value)));
        var sim = cap.Select(m => ReferenceEquals(m, target) ? without : m).ToList();
        var problems = new List<string>();
        Compare(conn, cap, sim, problems);
        Assert.That(problems, Has.Count.EqualTo(1), string.Join("\n", problems));
        Assert.That(problems[0], Does.Contain($"{Kind(target)} #").And.Contain($"missing [{header}] extra []"));
    }

    [Test]
    public void ASecondHangupCauseMissingIsReported()
    {
        var (_, captured) = Analyse(Load("call-busy"));
        var cap = captured["inbound"];
        var target = cap.OfType<EslEvent>().First(e => e.EventName == "CHANNEL_HANGUP_COMPLETE");
        var headers = target.EventHeaders.Select(h => new KeyValuePair<string, string>(h.Name, h.Value)).ToList();
        headers.RemoveAt(headers.FindLastIndex(h => h.Key == "Hangup-Cause"));
        var sim = cap.Select(m => ReferenceEquals(m, target) ? EslEvent.Create(target.Format, headers) : m).ToList();
        var problems = new List<string>();
        Compare("inbound", cap, sim, problems);
        Assert.That(problems, Has.Count.EqualTo(1));
        Assert.That(problems[0], Does.Contain("missing [Hangup-Cause]"));
    }

    internal static string Mask(string s) => Uuid.Replace(s, "<uuid>");

    internal static string ReplyKey(EslMessage m) => m switch
    {
        CommandReply r when r.IsConnectReply => $"command/reply connect {r.SocketMode} {r.Control}",
        CommandReply r => "command/reply " + Mask(r.ReplyText),
        ApiResponse a when a.BodyText.StartsWith("UP ", StringComparison.Ordinal) => "api/response " + Regex.Replace(a.BodyText, @"\d+(\.\d+)?", "N"),
        ApiResponse a => "api/response " + Mask(a.BodyText),
        DisconnectNotice d => $"disconnect-notice {d.Disposition} {d.LingerTime}",
        AuthRequest => "auth/request",
        _ => m.ContentType ?? "?",
    };

    /// <summary>
    /// Headers the per-event comparison lets one side have without the other, as <c>KIND/Header</c> (<c>*/Header</c>
    /// for every kind). Only for a header whose presence in the capture follows from values specific to that run
    /// (timing, a race), each entry with its reason. Empty: every event's header set is reproduced.
    /// </summary>
    internal static readonly HashSet<string> ToleratedHeaders = new(StringComparer.Ordinal)
    {
    };

    internal static void Compare(string conn, List<EslMessage> cap, List<EslMessage> sim, List<string> problems)
    {
        var capReplies = cap.Where(m => m is not EslEvent).Select(ReplyKey).ToList();
        var simReplies = sim.Where(m => m is not EslEvent).Select(ReplyKey).ToList();
        if (!capReplies.SequenceEqual(simReplies))
            problems.Add($"{conn} replies differ:\n  capture: {string.Join(" | ", capReplies)}\n  sim:     {string.Join(" | ", simReplies)}");

        var capJobs = cap.OfType<EslEvent>().Where(e => e.EventName == "BACKGROUND_JOB").Select(e => Mask(e.EventBodyText ?? "")).ToList();
        var simJobs = sim.OfType<EslEvent>().Where(e => e.EventName == "BACKGROUND_JOB").Select(e => Mask(e.EventBodyText ?? "")).ToList();
        if (!capJobs.SequenceEqual(simJobs))
            problems.Add($"{conn} BACKGROUND_JOB results differ: capture [{string.Join(",", capJobs)}] sim [{string.Join(",", simJobs)}]");

        // the connect reply: same header names, in the same order
        var capConnect = cap.OfType<CommandReply>().FirstOrDefault(r => r.IsConnectReply);
        var simConnect = sim.OfType<CommandReply>().FirstOrDefault(r => r.IsConnectReply);
        if (capConnect != null && simConnect != null)
        {
            var cn = capConnect.Headers.Select(h => h.Name).ToList();
            var sn = simConnect.Headers.Select(h => h.Name).ToList();
            if (!cn.SequenceEqual(sn))
                problems.Add($"{conn} connect reply headers differ:\n  capture: {string.Join(",", cn)}\n  sim:     {string.Join(",", sn)}");
        }

        // BACKGROUND_JOB header names, job by job (Job-Owner-UUID only for a bgapi sent on a bound socket)
        var capJobEvents = cap.OfType<EslEvent>().Where(e => e.EventName == "BACKGROUND_JOB").ToList();
        var simJobEvents = sim.OfType<EslEvent>().Where(e => e.EventName == "BACKGROUND_JOB").ToList();
        for (int j = 0; j < Math.Min(capJobEvents.Count, simJobEvents.Count); j++)
        {
            var cn = capJobEvents[j].EventHeaders.Select(h => h.Name).ToList();
            var sn = simJobEvents[j].EventHeaders.Select(h => h.Name).ToList();
            if (!cn.SequenceEqual(sn))
                problems.Add($"{conn} BACKGROUND_JOB {j} headers differ: capture {string.Join(",", cn)} sim {string.Join(",", sn)}");
        }

        var capLegs = Legs(cap);
        var simLegs = Legs(sim);
        foreach (var leg in capLegs.Keys.Concat(simLegs.Keys).Distinct())
        {
            if (!capLegs.TryGetValue(leg, out var ce)) { problems.Add($"{conn} leg {leg}: only in the simulator ({string.Join(" ", simLegs[leg].Select(Kind))})"); continue; }
            if (!simLegs.TryGetValue(leg, out var se)) { problems.Add($"{conn} leg {leg}: missing in the simulator ({string.Join(" ", ce.Select(Kind))})"); continue; }
            var cn = ce.Select(Kind).ToList();
            var sn = se.Select(Kind).ToList();
            if (!cn.SequenceEqual(sn))
                problems.Add($"{conn} leg {leg} events differ:\n  capture: {string.Join(" ", cn)}\n  sim:     {string.Join(" ", sn)}");
            CompareEvents(conn, leg, ce, se, problems);
        }
    }

    /// <summary>
    /// Header names event by event: the n-th event of a kind (name, plus Application for CHANNEL_EXECUTE and
    /// CHANNEL_EXECUTE_COMPLETE) on a leg against the n-th of that kind on the same leg in the capture. Names are
    /// compared as multisets, so a missing second <c>Hangup-Cause</c> counts too.
    /// </summary>
    internal static void CompareEvents(string conn, string leg, List<EslEvent> cap, List<EslEvent> sim, List<string> problems)
    {
        foreach (var kind in cap.Select(Kind).Distinct())
        {
            var ck = cap.Where(e => Kind(e) == kind).ToList();
            var sk = sim.Where(e => Kind(e) == kind).ToList();
            for (int n = 0; n < Math.Min(ck.Count, sk.Count); n++)
            {
                var c = HeaderCounts(ck[n]);
                var s = HeaderCounts(sk[n]);
                var missing = c.Where(kv => !Tolerated(kind, kv.Key) && (s.TryGetValue(kv.Key, out var x) ? x : 0) < kv.Value).Select(kv => kv.Key).ToList();
                var extra = s.Where(kv => !Tolerated(kind, kv.Key) && (c.TryGetValue(kv.Key, out var x) ? x : 0) < kv.Value).Select(kv => kv.Key).ToList();
                if (missing.Count > 0 || extra.Count > 0)
                    problems.Add($"{conn} leg {leg} {kind} #{n + 1}: missing [{string.Join(",", missing)}] extra [{string.Join(",", extra)}]");
                else if (Environment.GetEnvironmentVariable("SIM_CHECK_ORDER") == "1"
                         && !ck[n].EventHeaders.Select(h => h.Name).SequenceEqual(sk[n].EventHeaders.Select(h => h.Name)))
                    problems.Add($"{conn} leg {leg} {kind} #{n + 1} header order:\n  capture: {string.Join(",", ck[n].EventHeaders.Select(h => h.Name))}\n  sim:     {string.Join(",", sk[n].EventHeaders.Select(h => h.Name))}");
            }
        }
    }

    private static Dictionary<string, int> HeaderCounts(EslEvent e) =>
        e.EventHeaders.GroupBy(h => h.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);

    internal static bool Tolerated(string kind, string header) =>
        ToleratedHeaders.Contains(kind + "/" + header) || ToleratedHeaders.Contains("*/" + header);

    internal static string Kind(EslEvent e) => e.EventName + (e["Application"] is { } app ? "(" + app + ")" : "");

    /// <summary>
    /// Channel events grouped by leg. A leg is named by its role, which is the same in the capture and the replay:
    /// its <c>Channel-Name</c> (the dialled number, and <c>-a</c> / <c>-b</c> for the two halves of a loopback
    /// call), plus <c>#n</c> when a scenario dials the same name more than once.
    /// </summary>
    internal static Dictionary<string, List<EslEvent>> Legs(List<EslMessage> frames)
    {
        var byLeg = new Dictionary<string, List<EslEvent>>();
        var keyOf = new Dictionary<string, string>();
        var perName = new Dictionary<string, int>();
        foreach (var e in frames.OfType<EslEvent>())
        {
            if (e.EventName == "BACKGROUND_JOB" || e.UniqueId is not { } uid) continue;
            if (!keyOf.TryGetValue(uid, out var key))
            {
                var name = e["Channel-Name"] ?? "?";
                var n = perName[name] = perName.GetValueOrDefault(name) + 1;
                keyOf[uid] = key = n == 1 ? name : $"{name}#{n}";
                byLeg[key] = new();
            }
            byLeg[key].Add(e);
        }
        return byLeg;
    }
}
