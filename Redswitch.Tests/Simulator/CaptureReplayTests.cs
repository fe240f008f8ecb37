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
/// sockets and compares, per connection, the replies, the BACKGROUND_JOB results and, per leg, the event names
/// and each event type's header names with what the real FreeSWITCH sent.
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
        EslEvent e when (e["Channel-Name"] ?? "").EndsWith("-b", StringComparison.Ordinal) => null,
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

    /// <summary>Header names the simulator is allowed not to reproduce exactly (see README "Deliberate differences").</summary>
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
        if (capLegs.Count != simLegs.Count)
            problems.Add($"{conn}: {capLegs.Count} legs in the capture, {simLegs.Count} in the simulator");
        for (int i = 0; i < Math.Min(capLegs.Count, simLegs.Count); i++)
        {
            var cn = capLegs[i].Select(e => e.EventName).ToList();
            var sn = simLegs[i].Select(e => e.EventName).ToList();
            if (!cn.SequenceEqual(sn))
                problems.Add($"{conn} leg {i} events differ:\n  capture: {string.Join(" ", cn)}\n  sim:     {string.Join(" ", sn)}");
            foreach (var ce in capLegs[i].GroupBy(Kind).Select(g => g.First()))
            {
                var se = simLegs[i].FirstOrDefault(e => Kind(e) == Kind(ce));
                if (se == null) continue;
                var cset = ce.EventHeaders.Select(h => h.Name).ToHashSet();
                var sset = se.EventHeaders.Select(h => h.Name).ToHashSet();
                var missing = cset.Except(sset).Where(h => !ToleratedHeaders.Contains(h)).ToList();
                var extra = sset.Except(cset).Where(h => !ToleratedHeaders.Contains(h)).ToList();
                if (missing.Count > 0 || extra.Count > 0)
                    problems.Add($"{conn} leg {i} {Kind(ce)} headers: missing [{string.Join(",", missing)}] extra [{string.Join(",", extra)}]");
                else if (Environment.GetEnvironmentVariable("SIM_CHECK_ORDER") == "1"
                         && !ce.EventHeaders.Select(h => h.Name).SequenceEqual(se.EventHeaders.Select(h => h.Name)))
                    problems.Add($"{conn} leg {i} {Kind(ce)} header order:\n  capture: {string.Join(",", ce.EventHeaders.Select(h => h.Name).Where(n => n.StartsWith("variable_")))}\n  sim:     {string.Join(",", se.EventHeaders.Select(h => h.Name).Where(n => n.StartsWith("variable_")))}");
            }
        }
    }

    private static string Kind(EslEvent e) => e.EventName + (e["Application"] is { } app ? "(" + app + ")" : "");

    /// <summary>Channel events grouped by leg, legs in order of first appearance; loopback "-b" halves ignored.</summary>
    internal static List<List<EslEvent>> Legs(List<EslMessage> frames)
    {
        var order = new List<string>();
        var byLeg = new Dictionary<string, List<EslEvent>>();
        foreach (var e in frames.OfType<EslEvent>())
        {
            if (e.EventName == "BACKGROUND_JOB" || e.UniqueId is not { } uid) continue;
            if ((e["Channel-Name"] ?? "").EndsWith("-b", StringComparison.Ordinal)) continue;
            if (!byLeg.TryGetValue(uid, out var list)) { byLeg[uid] = list = new(); order.Add(uid); }
            list.Add(e);
        }
        return order.Select(u => byLeg[u]).ToList();
    }
}
