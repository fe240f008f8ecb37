using System.Collections.Concurrent;
using System.Diagnostics;
using Redswitch.Server.Esl;
using Redswitch.Simulator;
using Redswitch.Tests.Infrastructure;
using static Redswitch.Tests.Server.Jobs;

namespace Redswitch.Tests.Server;

/// <summary>
/// A FreeSWITCH node that stalls — neither up nor down, as a SIGSTOPped process or a hung host looks from outside
/// (SPEC §4, §7): the probe notices it within seconds and new calls go elsewhere; an originate it had received stays
/// unknown until it shows up or cannot any more; a restart is told by the Core-UUID, not by the uptime the node starts
/// again after the stall. The simulator is stalled in-process (<see cref="SimulatorHost.Stall"/>): what reaches it
/// meanwhile waits and runs when it wakes, and its uptime starts again while its Core-UUID stays.
/// </summary>
[Category("e2e")]
[Category("stall")]
[NonParallelizable]
public class StallTests
{
    private RedisServer _redis = null!;
    private readonly List<IAsyncDisposable> _owned = [];

    [SetUp]
    public async Task SetUp() => _redis = await RedisServer.StartAsync();

    private readonly List<ServerHarness> _servers = [];

    [TearDown]
    public async Task TearDown()
    {
        if (TestContext.CurrentContext.Result.Outcome.Status == NUnit.Framework.Interfaces.TestStatus.Failed)
            foreach (var s in _servers) TestContext.Out.WriteLine(string.Join("\n", s.Log.Lines.TakeLast(80)));
        _servers.Clear();
        for (var i = _owned.Count - 1; i >= 0; i--) await _owned[i].DisposeAsync();
        _owned.Clear();
        await _redis.DisposeAsync();
    }

    private async Task<(SimulatorHost Sim, ConcurrentQueue<string> Log)> SimAsync()
    {
        var log = new ConcurrentQueue<string>();
        var sim = await SimulatorHost.StartAsync(new SimulatorOptions { Port = 0, HeartbeatInterval = null, Log = log.Enqueue });
        _owned.Add(sim);
        return (sim, log);
    }

    private async Task<ServerHarness> ServerAsync(string eslUrl, TimeSpan silence)
    {
        var server = await ServerHarness.StartAsync(_redis, 0, new() { ["ESL_URL"] = eslUrl }, o => ServerHarness.With(o, linkSilence: silence));
        _owned.Add(server);
        _servers.Add(server);
        return server;
    }

    private static int _numbers;

    /// <summary>A job with phone numbers of its own (the simulator's per-leg log tells which of its legs existed).</summary>
    private static (string DialId, string Caller, string Callee, string Job) NewJob()
    {
        var n = Interlocked.Increment(ref _numbers);
        var (caller, callee) = ($"1510{n:D6}1", $"1415{n:D6}2");
        var dialId = NewDialId();
        return (dialId, caller, callee, Call(dialId, caller: caller, callee: callee));
    }

    private static bool Dialled(ConcurrentQueue<string> simLog, string number) => simLog.Any(l => l.Contains($" number={number} "));

    private static async Task HangUpAsync(ChannelWatcher watch, string why)
    {
        await watch.SendAsync("""{"type": "hangup"}""");
        var tail = await watch.CollectAsync(m => IsHangup(m) || IsAck(m), 3, 10);
        Assert.That(tail, Is.EquivalentTo(new[] { Ack("hangup"), Hangup(0, "NORMAL_CLEARING"), Hangup(1, "NORMAL_CLEARING") }), why);
    }

    /// <summary>The link's state, polled until it is <paramref name="state"/>: the seconds it took, or null.</summary>
    private static async Task<double?> TimeUntilAsync(InboundLink link, InboundLink.LinkState state, double seconds)
    {
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < 10_000 && sw.Elapsed.TotalSeconds < seconds; i++)
        {
            if (link.State == state) return sw.Elapsed.TotalSeconds;
            await Task.Delay(20);
        }
        return null;
    }

    /// <summary>
    /// One node stalls for longer than the link's silence limit while a job arrives every second, then wakes: every
    /// job is either a call whose sides each end once, or a failure for which no channel was ever created; the call up
    /// before the stall ends normally; nothing is left on the node; the stall is noticed within 5 s. CI runs it with a
    /// 10 s silence limit; the SPEC's 30 s limit with a 40 s stall is the explicit case.
    /// </summary>
    [TestCase(10, 15)]
    [TestCase(30, 40, Explicit = true, Reason = "the SPEC's silence limit: a minute")]
    public async Task OneNodeStalledPastTheSilenceLimitWhileJobsArrive_EveryJobIsACallOrAFailureThatNeverRang(int silenceSeconds, int stallSeconds)
    {
        var (sim, simLog) = await SimAsync();
        var server = await ServerAsync($"127.0.0.1:{sim.Port}", TimeSpan.FromSeconds(silenceSeconds));
        var link = server.Service.Links!.Links[0];

        var before = NewJob();
        await using var beforeWatch = await ChannelWatcher.StartAsync(_redis.Client, before.DialId);
        await PushAsync(_redis, before.Job);
        await beforeWatch.CollectAsync(m => m == Answer(1), 1, 10);

        var jobs = Enumerable.Range(0, 6).Select(_ => NewJob()).ToList();
        var watches = new List<ChannelWatcher>();
        foreach (var j in jobs) watches.Add(await ChannelWatcher.StartAsync(_redis.Client, j.DialId));
        var stall = Stopwatch.StartNew();
        sim.Stall();
        var detect = TimeUntilAsync(link, InboundLink.LinkState.Stalled, 10);
        var takenBefore = server.Service.Registry.Count;
        for (var i = 0; i < jobs.Count; i++)
        {
            await PushAsync(_redis, jobs[i].Job);
            // the scenario's schedule: one job a second
            var next = TimeSpan.FromSeconds(i + 1);
            if (stall.Elapsed < next) await Task.Delay(next - stall.Elapsed);
        }
        var detectedAfter = await detect;
        Assert.That(detectedAfter, Is.Not.Null.And.LessThanOrEqualTo(5), "the stall noticed (link stalled) within 5 s");
        Assert.That(server.Service.NotReadyReason, Is.EqualTo("no FreeSWITCH node authenticated"), "/readyz follows");
        // jobs that reached the stalled node: the calls owned now, but the one from before
        var toStalledNode = server.Service.Registry.Count - takenBefore;

        // stalled past the silence limit: the link is closed meanwhile; then the node wakes
        if (stall.Elapsed < TimeSpan.FromSeconds(stallSeconds)) await Task.Delay(TimeSpan.FromSeconds(stallSeconds) - stall.Elapsed);
        sim.Unstall();
        Assert.That(server.Log.Lines.Any(l => l.Contains("silent for")), Is.True, "the link was closed by the silence rule during the stall");

        var calls = 0;
        var failures = 0;
        var rungAfterFailure = 0;
        for (var i = 0; i < jobs.Count; i++)
        {
            var j = jobs[i];
            var w = watches[i];
            // the deadline of an unknown originate: ring timeout (5 s) + connect time (3 s) after the link was lost
            var first = await w.NextAsync(silenceSeconds + 20);
            if (first == Failure("freeswitch link lost"))
            {
                failures++;
                continue;
            }
            Assert.That(first, Is.EqualTo(Start(j.DialId)), $"job {i}: the first message");
            calls++;
            await w.CollectAsync(m => m == Answer(1), 1, 15);
            await HangUpAsync(w, $"job {i}: every side it dialled ends once");
        }
        await HangUpAsync(beforeWatch, "the call up before the stall ends normally");
        await Waits.UntilAsync(() => sim.LiveChannels == 0, 15, "no channel left on the node");
        for (var i = 0; i < jobs.Count; i++)
        {
            var failed = watches[i].All.FirstOrDefault() == Failure("freeswitch link lost");
            if (!failed) continue;
            if (Dialled(simLog, jobs[i].Caller)) rungAfterFailure++;
            Assert.That(watches[i].All.Count(IsHangup), Is.EqualTo(Dialled(simLog, jobs[i].Caller) ? 1 : 0), $"job {i}: a late leg gets one hangup-event");
        }
        foreach (var w in watches)
        {
            await w.ExpectQuietAsync(0.2);
            foreach (var g in w.All.GroupBy(m => m).Where(g => g.Count() > 1)) Assert.Fail($"published twice: {g.Key}");
            await w.DisposeAsync();
        }
        Assert.That(server.Log.Lines.Where(l => l.Contains("restarted")), Is.Empty, "a stall is no restart (the Core-UUID stayed)");
        Assert.That(simLog.Any(l => l.Contains("Virtual Migration Detected")), Is.True, "the simulator's uptime left the stall out, as FreeSWITCH's does");
        Assert.That(rungAfterFailure, Is.Zero, "no phone rang for a job reported as failed");
        TestContext.Out.WriteLine($"stall summary: silence limit {silenceSeconds} s, stall {stallSeconds} s: noticed after {detectedAfter:F1} s;"
                                  + $" jobs to the stalled node {toStalledNode} of {jobs.Count}; calls {calls}, failures {failures}; rung after a failure {rungAfterFailure}");
    }

    [Test]
    public async Task TwoNodesOneStalled_NewJobsGoToTheOtherWithinFiveSeconds_AndNothingIsTakenForARestart()
    {
        var (stalled, stalledLog) = await SimAsync();
        var (healthy, healthyLog) = await SimAsync();
        var server = await ServerAsync($"127.0.0.1:{stalled.Port},127.0.0.1:{healthy.Port}", TimeSpan.FromSeconds(10));
        await Waits.UntilAsync(() => server.Service.Links!.Links.All(l => l.IsUp), 10, "both links up");

        var sw = Stopwatch.StartNew();
        stalled.Stall();
        var jobs = new List<(string DialId, string Caller, string Callee, string Job, double At, ChannelWatcher Watch)>();
        for (var i = 0; i < 24; i++)
        {
            var j = NewJob();
            var w = await ChannelWatcher.StartAsync(_redis.Client, j.DialId);
            await PushAsync(_redis, j.Job);
            jobs.Add((j.DialId, j.Caller, j.Callee, j.Job, sw.Elapsed.TotalSeconds, w));
            var next = TimeSpan.FromSeconds(0.5 * (i + 1));
            if (sw.Elapsed < next) await Task.Delay(next - sw.Elapsed);
        }
        // past the silence limit (10 s): the link is closed meanwhile, and reconnects once the node wakes
        await Waits.UntilAsync(() => server.Log.Lines.Any(l => l.Contains("silent for")), 10, "the stalled link closed by the silence rule");
        stalled.Unstall();
        await Waits.UntilAsync(() => server.Service.Links!.Links.All(l => l.IsUp), 15, "both links up again");
        foreach (var j in jobs)
        {
            Assert.That(await j.Watch.NextAsync(20), Is.EqualTo(Start(j.DialId)), $"job pushed at {j.At:F1} s: a call");
            await j.Watch.CollectAsync(m => m == Answer(1), 1, 15);
            await HangUpAsync(j.Watch, $"job pushed at {j.At:F1} s");
        }
        await Waits.UntilAsync(() => stalled.LiveChannels == 0 && healthy.LiveChannels == 0, 15, "no channel left");
        var late = jobs.Where(j => j.At >= 5).ToList();
        var onStalled = jobs.Where(j => Dialled(stalledLog, j.Caller)).ToList();
        Assert.That(late.Where(j => !Dialled(healthyLog, j.Caller)).Select(j => $"{j.At:F1} s"), Is.Empty, "jobs from 5 s after the stall on went to the other node");
        Assert.That(server.Log.Lines.Where(l => l.Contains("restarted")), Is.Empty, "nothing is reported as a restart (same Core-UUID, whatever the uptime)");
        Assert.That(stalledLog.Any(l => l.Contains("Virtual Migration Detected")), Is.True, "its uptime left the stall out");
        Assert.That(server.Log.Lines.Count(l => l.Contains("stalled: no new call")), Is.EqualTo(1));
        TestContext.Out.WriteLine($"stall summary: two nodes, one stalled past the 10 s silence limit: {onStalled.Count} of {jobs.Count} jobs went to it"
                                  + $" (the last pushed {onStalled.Select(j => j.At).DefaultIfEmpty(-1).Max():F1} s after the stall began)");
        foreach (var j in jobs) await j.Watch.DisposeAsync();
    }

    [Test]
    public async Task ANodeGoneForGood_ItsCallsAreCountedUnreachable_AndTheirControlsFail()
    {
        var (sim, _) = await SimAsync();
        var server = await ServerAsync($"127.0.0.1:{sim.Port}", TimeSpan.FromSeconds(10));
        var node = server.Service.Links!.Links[0].Node.ToString();
        var j = NewJob();
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, j.DialId);
        await PushAsync(_redis, j.Job);
        await watch.CollectAsync(m => m == Answer(1), 1, 10);
        Assert.That(await UnreachableAsync(server, node), Is.Zero);

        await sim.StopAsync(); // killed: its channels vanish without a word, and it never comes back
        await Waits.UntilAsync(() => !server.Service.Links.Links[0].IsUp, 10, "the link down");
        Assert.That(await UnreachableAsync(server, node), Is.EqualTo(1), "redswitch_calls_unreachable{node}");
        await watch.SendAsync("""{"type": "hangup"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(ControlFailure("hangup", "freeswitch unavailable")));
    }

    private static async Task<double> UnreachableAsync(ServerHarness server, string node)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var text = await http.GetStringAsync(new Uri(server.MetricsUri, "/metrics"));
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith($"redswitch_calls_unreachable{{node=\"{node}\"}}", StringComparison.Ordinal));
        return line is null ? -1 : double.Parse(line.Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture);
    }
}
