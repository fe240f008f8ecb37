using Redswitch.Server.Redis;
using System.Collections.Concurrent;
using System.Text.Json;
using Redswitch.Simulator;
using Redswitch.Tests.Infrastructure;
using StackExchange.Redis;
using static Redswitch.Tests.Server.Jobs;

namespace Redswitch.Tests.Server;

/// <summary>
/// Redis goes away under live calls (SPEC §4 "Events survive a Redis outage", §8.1 "Redis lost its data"): killed
/// and restarted with and without persistence, or unreachable for longer than a call. The server reaches Redis
/// through a <see cref="TcpGate"/>, so the test's own subscriber (connected directly) is back before the server is.
/// </summary>
[Category("e2e")]
[NonParallelizable]
public class RedisOutageTests
{
    private RedisServer _redis = null!;
    private TcpGate _gate = null!;
    private SimulatorHost _sim = null!;
    private ServerHarness? _server;
    private ConnectionMultiplexer _watch = null!;
    private readonly ConcurrentDictionary<string, ConcurrentQueue<string>> _seen = new();
    private const string Prefix = "ro-";
    private int _peakWaiting;
    private string _peakMetrics = "";
    /// <summary>The simulator's phone that answers and hangs up after its HangupDelay (SPEC §9).</summary>
    private const string Callee = "14155550480";

    private async Task StartAsync(bool appendOnly, TimeSpan hangupDelay, string lease = "6")
    {
        _peakWaiting = 0;
        _peakMetrics = "";
        _redis = await RedisServer.StartAsync(appendOnly);
        _gate = new TcpGate(_redis.Port);
        _sim = await SimulatorHost.StartAsync(new SimulatorOptions
        {
            Port = FreePort.Get(), HeartbeatInterval = null, AnswerDelay = TimeSpan.FromMilliseconds(100), HangupDelay = hangupDelay,
        });
        _server = await ServerHarness.StartAsync(_redis, _sim.Port, new() { ["PUBSUB_REDIS_URL"] = _gate.RedisUrl, ["RING_TIMEOUT"] = "10", ["INSTANCE_LEASE"] = lease });
        // The observer: its own connection, reconnecting quickly, subscribed to every channel of the test's calls.
        var watchOptions = ConfigurationOptions.Parse($"127.0.0.1:{_redis.Port},abortConnect=false,connectTimeout=500");
        watchOptions.HeartbeatInterval = TimeSpan.FromMilliseconds(100);
        _watch = await ConnectionMultiplexer.ConnectAsync(watchOptions);
        // A queue, not a handler: the client runs handlers concurrently, and the order of the messages is under test.
        var all = await _watch.GetSubscriber().SubscribeAsync(RedisChannel.Pattern(Prefix + "*"));
        all.OnMessage(m => _seen.GetOrAdd(m.Channel.ToString(), _ => new()).Enqueue((string)m.Message!));
    }

    [TearDown]
    public async Task StopAll()
    {
        if (_server is not null)
        {
            if (TestContext.CurrentContext.Result.Outcome.Status == NUnit.Framework.Interfaces.TestStatus.Failed)
                TestContext.Out.WriteLine(_server.Log.Dump());
            await _server.StopAsync();
        }
        _server = null;
        if (_watch is not null) await _watch.DisposeAsync();
        if (_sim is not null) await _sim.DisposeAsync();
        if (_gate is not null) await _gate.DisposeAsync();
        if (_redis is not null) await _redis.DisposeAsync();
        _seen.Clear();
    }

    /// <summary>Kills Redis, restarts it after <paramref name="down"/>, and lets the server back once the observer hears again.</summary>
    private async Task BounceRedisAsync(TimeSpan down)
    {
        await _redis.KillAsync();
        _gate.Close(); // the server is let back only below
        // The outage itself lasts a set time (it is the scenario, not a wait for a condition); the outbox is sampled meanwhile.
        var until = DateTime.UtcNow + down;
        while (DateTime.UtcNow < until)
        {
            _peakWaiting = Math.Max(_peakWaiting, _server!.Service.Outbox!.Waiting);
            await Task.Delay(100);
        }
        _peakMetrics = await new HttpClient().GetStringAsync(new Uri(_server!.MetricsUri, "/metrics"));
        await _redis.RestartAsync();
        await ObserverHearsAsync();
        _gate.Open();
    }

    private async Task ObserverHearsAsync()
    {
        var probe = Prefix + "probe-" + Guid.NewGuid().ToString("N")[..6];
        await Waits.UntilAsync(async () =>
        {
            try { await _redis.Db.PublishAsync(RedisChannel.Literal(probe), "probe"); }
            catch (RedisException) { return false; }
            return _seen.ContainsKey(probe);
        }, 15, "the test's subscriber to be back");
    }

    private static string Parse(string json, out string side)
    {
        using var d = JsonDocument.Parse(json);
        side = d.RootElement.TryGetProperty("side", out var s) ? s.GetString()! : "";
        return d.RootElement.GetProperty("type").GetString()!;
    }

    /// <summary>
    /// Every call the server started has, on its channel: call-start first, one answer-event per side that answered
    /// (before its hangup-event), exactly one hangup-event per side, nothing twice. Returns the problems found.
    /// </summary>
    private List<string> CheckCalls(IEnumerable<string> dialIds, out int started)
    {
        var problems = new List<string>();
        started = 0;
        foreach (var d in dialIds)
        {
            if (!_seen.TryGetValue(d, out var q)) continue;
            started++;
            var msgs = q.ToList();
            if (msgs.Count != msgs.Distinct().Count()) problems.Add($"{d}: a message twice: {string.Join(" | ", msgs)}");
            if (Parse(msgs[0], out _) != "call-start") problems.Add($"{d}: does not begin with call-start: {string.Join(" | ", msgs)}");
            foreach (var side in new[] { "0", "1" })
            {
                var answers = msgs.FindIndex(m => Parse(m, out var s) == "answer-event" && s == side);
                var hangups = msgs.Where(m => Parse(m, out var s) == "hangup-event" && s == side).ToList();
                if (hangups.Count != 1) problems.Add($"{d}: side {side} has {hangups.Count} hangup-events: {string.Join(" | ", msgs)}");
                else if (answers > msgs.IndexOf(hangups[0])) problems.Add($"{d}: side {side} answered after its hangup: {string.Join(" | ", msgs)}");
            }
        }
        return problems;
    }

    [TestCase(false, 1)]
    [TestCase(false, 2)]
    [TestCase(false, 3)]
    [TestCase(true, 1)]
    [TestCase(true, 2)]
    public async Task RedisKilledAndRestartedDuringCallsLosesAndRepeatsNoEvent(bool appendOnly, int run)
    {
        await StartAsync(appendOnly, TimeSpan.FromSeconds(2));
        var before = Enumerable.Range(0, 100).Select(i => $"{Prefix}{run}-a{i}").ToList();
        var after = Enumerable.Range(0, 100).Select(i => $"{Prefix}{run}-b{i}").ToList();

        // 100 calls at about 20/s, Redis killed in the middle of them for 3 s
        var pushing = Task.Run(async () =>
        {
            for (var i = 0; i < before.Count; i++)
            {
                await PushRetryingAsync(Call(before[i], callee: Callee, user: "u-" + before[i]));
                await Task.Delay(50);
            }
        });
        await Waits.UntilAsync(() => _seen.Count(kv => kv.Key.StartsWith(Prefix + run + "-a")) >= 50, 30, "50 calls started");
        var answeredBefore = _server!.Service.Registry.Live;
        await BounceRedisAsync(TimeSpan.FromSeconds(3));
        await pushing;
        // and 100 more once it is back: every one of them is dialled
        for (var i = 0; i < after.Count; i++)
        {
            await PushRetryingAsync(Call(after[i], callee: Callee, user: "u-" + after[i]));
            await Task.Delay(50);
        }

        await Waits.UntilAsync(() => after.All(d => _seen.TryGetValue(d, out var q) && q.Count(m => m.Contains("hangup-event")) >= 2), 60,
            "every call pushed after the restart to end");
        await Waits.UntilAsync(() => _server.Service.Registry.Live == 0 && _server.Service.Outbox!.Waiting == 0, 30, "every call over, the outbox empty");

        var problems = CheckCalls(before.Concat(after), out var started);
        Assert.That(problems, Is.Empty);
        Assert.That(answeredBefore, Is.GreaterThan(0), "calls were live when Redis died");
        // Without persistence the jobs still queued in Redis die with it; with AOF every job becomes a call.
        if (appendOnly) Assert.That(started, Is.EqualTo(200));
        Assert.That(after.All(_seen.ContainsKey), Is.True, "every job pushed after the restart was dialled");

        // bookkeeping: no active entry left; the history of each call (one user each) holds its events once
        var keys = (await _redis.Client.GetServer("127.0.0.1", _redis.Port).KeysAsync(pattern: "redswitch.ro-*").ToListAsync())
            .Select(k => k.ToString()).ToList();
        Assert.That(keys, Is.Empty, "active-call lists are empty at the end");
        foreach (var d in appendOnly ? before.Concat(after) : after)
        {
            var history = (await _redis.Db.ListRangeAsync($"redswitch_history.{Org}.u-{d}")).Select(v => (string)v!).Reverse().ToList();
            if (!_seen.TryGetValue(d, out var q)) continue;
            Assert.That(history, Is.EqualTo(q.ToList()), $"history of {d}");
        }
        Assert.That(_server.Log.Exceptions, Is.Empty, "no exception in the log");
        Assert.That(await _redis.Db.SortedSetScoreAsync(Redswitch.Server.Redis.RedisKeys.Instances, _server.Service.InstanceId), Is.Not.Null,
            "the instance is registered again");
        var writeBack = _server.Log.Lines.SingleOrDefault(l => l.Contains("restarted (new run_id): wrote back the state of", StringComparison.Ordinal));
        Assert.That(writeBack, Does.Match(@"state of [1-9][0-9]* call"), "the live calls' state went back before anything else");
        Assert.That(_peakMetrics, Does.Match(@"redswitch_outbox_messages [1-9]"), "the outbox metric shows the writes waiting");
        TestContext.Out.WriteLine($"run {run} (aof {appendOnly}): {started} calls started, {answeredBefore} live at the kill, " +
                                  $"outbox peak {_peakWaiting} writes, 0 sides missing, 0 duplicated; at the end of the outage: " +
                                  string.Join("; ", _peakMetrics.Split('\n').Where(l => l.StartsWith("redswitch_outbox") || l.StartsWith("redswitch_redis"))));
    }

    private async Task PushRetryingAsync(string job)
    {
        // what a producer does: retry while Redis is away
        await Waits.UntilAsync(async () =>
        {
            try
            {
                await _redis.Db.ListLeftPushAsync(JobList, job);
                return true;
            }
            catch (RedisException) { return false; }
        }, 30, "the job to be pushed");
    }

    [Test]
    public async Task AnOwnerCutOffLongerThanItsLeaseHoldsEverythingThenKeepsTheCallsNobodyClaimed()
    {
        // SPEC §8.1 "Fencing": past INSTANCE_LEASE − 1 s without a renewal the instance acts on nothing; once renewed it
        // checks each call's (owner, epoch) and goes on with those still its own (no peer here to claim them).
        await StartAsync(appendOnly: false, TimeSpan.FromHours(1), lease: "3");
        var dialId = Prefix + "fence-" + Guid.NewGuid().ToString("N")[..6];
        await Jobs.PushAsync(_redis, Call(dialId, user: "u-fence"));
        await Waits.UntilAsync(() => _seen.TryGetValue(dialId, out var q) && q.Contains(Answer(1)), 10, "both sides answered");

        _gate.Close();
        await Waits.UntilAsync(() => _server!.Log.Lines.Any(l => l.Contains("lease not renewed")), 10, "the lease to lapse");
        // Redis is fine and the call's channel works: a hangup sent now reaches nobody (SPEC §8.1 "The gap").
        await _redis.Db.PublishAsync(RedisChannel.Literal(dialId), """{"type": "hangup", "id": 1}""");
        _gate.Open();
        await Waits.UntilAsync(() => _server!.Log.Lines.Any(l => l.Contains("lease renewed after it lapsed: 1 call(s) still ours, 0 taken over")), 15,
            "the calls to be checked");
        var state = await _redis.Db.HashGetAsync(RedisKeys.CallState(dialId), ["owner", "epoch"]);
        Assert.That(((string?)state[0], (string?)state[1]), Is.EqualTo((_server!.Service.InstanceId, "1")), "still ours at the same epoch");
        Assert.That(_server.Service.Registry.ByDialId(dialId), Is.Not.Null);

        await _redis.Db.PublishAsync(RedisChannel.Literal(dialId), """{"type": "hangup", "id": 2}""");
        await Waits.UntilAsync(() => _seen[dialId].Count(m => m.Contains("hangup-event")) == 2, 15, "the hangup-events");
        await Waits.UntilAsync(() => _server.Service.Outbox!.Waiting == 0, 10, "the outbox to empty");
        var msgs = _seen[dialId].ToList();
        Assert.That(msgs.Where(m => m.Contains("\"ack\"")), Is.EqualTo(new[] { Ack("hangup", "2") }), "the hangup sent while the instance was cut off reached nobody (the gap); the one after is acked once");
        Assert.That(msgs.Where(m => m.Contains("hangup-event")), Is.EquivalentTo(new[] { Hangup(0, "NORMAL_CLEARING"), Hangup(1, "NORMAL_CLEARING") }));
        Assert.That(msgs, Has.Count.EqualTo(msgs.Distinct().Count()), "nothing twice");
    }

    [Test]
    public async Task ACallThatEndsWhileRedisIsUnreachableHasItsWholeSequenceOnceRedisIsBack()
    {
        await StartAsync(appendOnly: false, TimeSpan.FromSeconds(1));
        var dialId = Prefix + "long-" + Guid.NewGuid().ToString("N")[..6];
        await Jobs.PushAsync(_redis, Call(dialId, callee: Callee, user: "u-long"));
        await Waits.UntilAsync(() => _seen.TryGetValue(dialId, out var q) && q.Count >= 1, 10, "call-start");

        _gate.Close(); // Redis is fine; the server cannot reach it
        await Waits.UntilAsync(() => _server!.Service.Registry.Live == 0, 15, "the call to end on FreeSWITCH meanwhile");
        Assert.That(_server!.Service.Outbox!.Waiting, Is.GreaterThan(0), "its events wait in the outbox");
        var metrics = await new HttpClient().GetStringAsync(new Uri(_server.MetricsUri, "/metrics"));
        Assert.That(metrics, Does.Match(@"redswitch_outbox_messages [1-9]"));
        Assert.That(_seen[dialId].ToList(), Has.Count.EqualTo(1), "nothing else got out");

        _gate.Open();
        await Waits.UntilAsync(() => _seen[dialId].Count(m => m.Contains("hangup-event")) == 2, 15, "the hangup-events");
        await Waits.UntilAsync(() => _server.Service.Outbox.Waiting == 0, 10, "the outbox to empty");
        var msgs = _seen[dialId].ToList();
        Assert.That(msgs[0], Is.EqualTo(Start(dialId)));
        Assert.That(msgs.Skip(1).Take(2), Is.EquivalentTo(new[] { Answer(0), Answer(1) }));
        Assert.That(msgs.Skip(3), Is.EquivalentTo(new[] { Hangup(0, "NORMAL_CLEARING"), Hangup(1, "NORMAL_CLEARING") }));
        Assert.That(msgs, Has.Count.EqualTo(5));
        var history = (await _redis.Db.ListRangeAsync($"redswitch_history.{Org}.u-long")).Select(v => (string)v!).Reverse();
        Assert.That(history, Is.EqualTo(msgs));
        Assert.That(await _redis.Db.KeyExistsAsync($"redswitch.{dialId}.{Org}.u-long"), Is.False, "no active entry left");
        Assert.That(_server.Log.Lines.Count(l => l.Contains("Redis unreachable", StringComparison.Ordinal)), Is.EqualTo(1), "the outage logged once");
    }

    [Test]
    public async Task OneCallsRefusedWriteDoesNotHoldUpAnother()
    {
        await StartAsync(appendOnly: false, TimeSpan.FromSeconds(1));
        var bad = Prefix + "bad-" + Guid.NewGuid().ToString("N")[..6];
        var good = Prefix + "good-" + Guid.NewGuid().ToString("N")[..6];
        // a key of the wrong type where the first call's active list goes: each of its active-list writes is refused
        var planted = $"redswitch.{bad}.{Org}.u-bad";
        await _redis.Db.StringSetAsync(planted, "not a list");
        await Jobs.PushAsync(_redis, Call(bad, callee: Callee, user: "u-bad"));
        await Jobs.PushAsync(_redis, Call(good, callee: Callee, user: "u-good"));

        await Waits.UntilAsync(() => new[] { bad, good }.All(d => _seen.TryGetValue(d, out var q) && q.Count(m => m.Contains("hangup-event")) == 2), 15,
            "both calls to end");
        Assert.That(CheckCalls([bad, good], out _), Is.Empty, "the refused history writes held up no event, of either call");
        Assert.That(_seen[good].ToList(), Is.EqualTo((await _redis.Db.ListRangeAsync($"redswitch_history.{Org}.u-good")).Select(v => (string)v!).Reverse()));
        Assert.That(_seen[bad].ToList(), Is.EqualTo((await _redis.Db.ListRangeAsync($"redswitch_history.{Org}.u-bad")).Select(v => (string)v!).Reverse()),
            "its history is whole: only the active-list part of each write was refused");
        Assert.That((string?)await _redis.Db.StringGetAsync(planted), Is.EqualTo("not a list"));
        // A refused write is logged after its reply, which comes after its message was published: wait for the last line.
        List<string> Refused() => _server!.Log.Lines.Where(l => l.Contains("Redis refused a write of dial_id " + bad, StringComparison.Ordinal)).ToList();
        await Waits.UntilAsync(() => Refused().Count >= 4, 10, "the refused writes to be logged");
        var refused = Refused();
        Assert.That(refused, Has.Count.EqualTo(4), "each refused write logged once: two answers, two hangups of answered sides");
        Assert.That(refused.All(l => l.Contains("WRONGTYPE")), Is.True);
        Assert.That(_server!.Log.Lines.Any(l => l.Contains("refused a write of dial_id " + good, StringComparison.Ordinal)), Is.False);
    }
}
