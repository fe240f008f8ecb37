using System.Collections.Concurrent;
using Redswitch.Server.Metrics;
using Redswitch.Server.Redis;
using Redswitch.Server.Redis.Outbox;
using Redswitch.Server.Redis.Outbox.Writes;
using Redswitch.Tests.Infrastructure;
using StackExchange.Redis;

namespace Redswitch.Tests.Redis;

/// <summary>The outbox against a real redis-server, reached through a <see cref="TcpGate"/> the test opens and closes.</summary>
[Category("e2e")]
public class OutboxTests
{
    private RedisServer _redis = null!;
    private TcpGate _gate = null!;
    private ConnectionMultiplexer _client = null!;
    private RedisOutbox _outbox = null!;
    // NUnit keeps one fixture object for all its tests: these are made again for each.
    private RedswitchMetrics _metrics = null!;
    private TestLog _log = null!;
    private ConcurrentQueue<string> _seen = null!;
    private readonly RedisKeys _keys = new("jobs", "inst-1");

    private async Task StartAsync(int limit = 1000)
    {
        _metrics = new RedswitchMetrics();
        _log = new TestLog();
        var seen = _seen = new ConcurrentQueue<string>();
        _redis = await RedisServer.StartAsync();
        _gate = new TcpGate(_redis.Port);
        var options = ConfigurationOptions.Parse($"127.0.0.1:{_gate.Port},abortConnect=true,connectTimeout=1000");
        options.BacklogPolicy = BacklogPolicy.FailFast;
        options.HeartbeatInterval = TimeSpan.FromMilliseconds(200);
        _client = await ConnectionMultiplexer.ConnectAsync(options);
        _outbox = new RedisOutbox(_client, _keys, limit, _metrics, _log.CreateLogger("outbox"), TimeProvider.System)
        {
            RetryInterval = TimeSpan.FromMilliseconds(50),
        };
        await _outbox.StartAsync();
        // A queue, not a handler: the client runs handlers concurrently, and order is under test.
        var all = await _redis.Client.GetSubscriber().SubscribeAsync(RedisChannel.Pattern("d*"));
        all.OnMessage(m =>
        {
            if (m.Channel != "dprobe") seen.Enqueue((string)m.Message!);
        });
    }

    [TearDown]
    public async Task Stop()
    {
        if (TestContext.CurrentContext.Result.Outcome.Status == NUnit.Framework.Interfaces.TestStatus.Failed) TestContext.Out.WriteLine(_log.Dump());
        _log.Dispose();
        await _outbox.DisposeAsync();
        await _client.DisposeAsync();
        await _gate.DisposeAsync();
        await _redis.DisposeAsync();
    }

    /// <summary>The test's subscriber (not behind the gate) hears again after a restart.</summary>
    private Task SubscriberBackAsync() => Waits.UntilAsync(async () =>
    {
        try { return await _redis.Client.GetSubscriber().PublishAsync(RedisChannel.Literal("dprobe"), "probe") > 0; }
        catch (RedisException) { return false; }
    }, 10, "the test's subscriber to be back");

    private static string Msg(int n) => $"{{\"n\": {n}}}";

    [Test]
    public async Task TheGatePublishesEachSequenceNumberOnceAndDropsOlderOnes()
    {
        await StartAsync();
        // writes up to seq 5 are in Redis already: this lane's first four are stale, its fifth a repeat (published before)
        await _redis.Db.HashSetAsync(RedisKeys.CallState("d1"), [new("seq", 5), new("pub", 5)]);
        var lane = _outbox.Lane("d1");
        for (var i = 1; i <= 7; i++) lane.Enqueue(new ReplyWrite("d1", Msg(i)));
        await Waits.UntilAsync(() => _outbox.Waiting == 0 && _seen.Count == 2, 10, "the writes to go");
        Assert.That(_seen, Is.EqualTo(new[] { Msg(6), Msg(7) }));
        Assert.That(_log.Lines.Count(l => l.Contains("dropped a stale write of dial_id d1")), Is.EqualTo(4));

        // the same message again (a retry after a lost reply) is not published twice
        var db = _redis.Db;
        var again = await db.ScriptEvaluateAsync(OutboxScripts.Announce, OutboxScripts.GateKeys("d1"), [7, 60, "d1", Msg(7), 0, "", 0, ""]);
        var next = await db.ScriptEvaluateAsync(OutboxScripts.Announce, OutboxScripts.GateKeys("d1"), [8, 60, "d1", Msg(8), 0, "", 0, ""]);
        Assert.That(((long)again, (long)next), Is.EqualTo((2L, 1L)));
        await Waits.UntilAsync(() => _seen.Count == 3, 5, "seq 8");
        Assert.That(_seen.Last(), Is.EqualTo(Msg(8)));
        Assert.That(await db.KeyTimeToLiveAsync(RedisKeys.CallState("d1")), Is.Not.Null, "the state hash expires");
    }

    [Test]
    public async Task AReleaseIsAStrictCompareAndSetAndAHandOffClaimTakesOnlyAReleasedCall()
    {
        await StartAsync();
        var db = _redis.Db;
        var notices = new ConcurrentQueue<string>();
        var handoff = await _redis.Client.GetSubscriber().SubscribeAsync(RedisChannel.Literal(RedisKeys.Handoff));
        handoff.OnMessage(m => notices.Enqueue((string)m.Message!));
        await db.HashSetAsync(RedisKeys.CallState("dr"), [new("owner", "a"), new("epoch", 1), new("uuid_0", "u0")]);
        async Task<long> Release(string owner, long epoch, string dialId = "dr") =>
            (long)await db.ScriptEvaluateAsync(OutboxScripts.Release, OutboxScripts.StateKeys(dialId), [owner, epoch, RedisKeys.Handoff, $"{owner} {dialId}"]);

        // Only the owner at its epoch releases; a hash that is gone is not made again.
        Assert.That(await Release("", 1), Is.EqualTo(-1), "a lane of no owner");
        Assert.That(await Release("b", 1), Is.EqualTo(-1), "another instance");
        Assert.That(await Release("a", 2), Is.EqualTo(-1), "another epoch");
        Assert.That(await Release("a", 1, "gone"), Is.EqualTo(-1), "no hash");
        Assert.That(await db.KeyExistsAsync(RedisKeys.CallState("gone")), Is.False, "a release does not make a hash");
        Assert.That((string?)await db.HashGetAsync(RedisKeys.CallState("dr"), "owner"), Is.EqualTo("a"));

        // A hand-off claim of a call still held by a live owner takes nothing.
        var early = (RedisResult[])(await db.ScriptEvaluateAsync(OutboxScripts.Claim, OutboxScripts.StateKeys("dr"), ["a", "b", "1"]))!;
        Assert.That(early, Is.Empty, "not released yet");

        // The owner's lane releases behind its earlier write; the peers are told; the owner hears once Redis has it.
        var lane = _outbox.Lane("dr");
        lane.Own("a", 1);
        var released = 0;
        lane.Enqueue(new ReplyWrite("dr", Msg(1), "ev.start"));
        lane.Enqueue(new StateRelease("dr", "a", () => Interlocked.Increment(ref released)));
        await Waits.UntilAsync(() => Volatile.Read(ref released) == 1 && notices.Count == 1, 10, "the release and its notice");
        var h = (await db.HashGetAllAsync(RedisKeys.CallState("dr"))).ToDictionary(e => (string)e.Name!, e => (string)e.Value!);
        Assert.That((h["owner"], h["epoch"], h["ev.start"]), Is.EqualTo(("released", "1", "1")));
        Assert.That(long.Parse(h["released_at"]), Is.GreaterThan(1_700_000_000_000), "Redis's time in ms");
        Assert.That(notices, Is.EqualTo(new[] { "a dr" }));
        Assert.That(await Release("a", 1), Is.EqualTo(2), "a retry of the same release");

        // The hand-off claim: epoch+1, the time since the release, released_at gone.
        var claimed = (RedisResult[])(await db.ScriptEvaluateAsync(OutboxScripts.Claim, OutboxScripts.StateKeys("dr"), ["a", "b", "1"]))!;
        var fields = Enumerable.Range(0, claimed.Length / 2).ToDictionary(i => (string)claimed[2 * i]!, i => (string)claimed[2 * i + 1]!);
        Assert.That((fields["owner"], fields["epoch"]), Is.EqualTo(("b", "2")));
        Assert.That(long.Parse(fields["handoff_ms"]), Is.InRange(0, 10_000));
        Assert.That(fields.ContainsKey("released_at"), Is.False);
        Assert.That(await db.HashExistsAsync(RedisKeys.CallState("dr"), "handoff_ms"), Is.False, "reported, not stored");
        Assert.That(await Release("a", 1), Is.EqualTo(-1), "the former owner's late retry is fenced");
        Assert.That((string?)await db.HashGetAsync(RedisKeys.CallState("dr"), "owner"), Is.EqualTo("b"));
        await handoff.UnsubscribeAsync();
    }

    [Test]
    public async Task AClaimFencesTheFormerOwnerWhoseLaneForgetsTheCallWithoutAWord()
    {
        await StartAsync();
        var fenced = new List<string>();
        _outbox.Fenced = d => { lock (fenced) fenced.Add(d); };
        var db = _redis.Db;
        await db.HashSetAsync(RedisKeys.CallState("df"), [new("owner", "a"), new("epoch", 1), new("uuid_0", "u0")]);
        var lane = _outbox.Lane("df");
        lane.Own("a", 1);
        lane.Enqueue(new ReplyWrite("df", Msg(1), "ev.start"));
        await Waits.UntilAsync(() => _outbox.Waiting == 0 && _seen.Count == 1, 10, "the owner's first write");
        Assert.That((string?)await db.HashGetAsync(RedisKeys.CallState("df"), "ev.start"), Is.EqualTo("1"), "the event is recorded as out");

        // A peer claims: only while "a" (or a release) holds the hash, once.
        var claimed = (RedisResult[])(await db.ScriptEvaluateAsync(OutboxScripts.Claim, OutboxScripts.StateKeys("df"), ["a", "b"]))!;
        var fields = Enumerable.Range(0, claimed.Length / 2).ToDictionary(i => (string)claimed[2 * i]!, i => (string)claimed[2 * i + 1]!);
        Assert.That((fields["owner"], fields["epoch"], fields["uuid_0"]), Is.EqualTo(("b", "2", "u0")));
        var twice = (RedisResult[])(await db.ScriptEvaluateAsync(OutboxScripts.Claim, OutboxScripts.StateKeys("df"), ["a", "c"]))!;
        Assert.That(twice, Is.Empty, "a second claimer finds b there");

        // The former owner's next writes are refused by Redis and nothing of its lane goes out afterwards.
        lane.Enqueue(new ReplyWrite("df", Msg(2)));
        lane.Enqueue(new StateWrite("df", [("mode", "3")]));
        lane.Enqueue(new StateDelete("df"));
        await Waits.UntilAsync(() => _outbox.Waiting == 0 && fenced.Count == 1, 10, "the fence");
        Assert.That(fenced, Is.EqualTo(new[] { "df" }));
        Assert.That(lane.Enqueue(new ReplyWrite("df", Msg(3))), Is.False, "a fenced lane takes nothing");
        Assert.That(_seen, Is.EqualTo(new[] { Msg(1) }), "no stale publication");
        Assert.That(await db.HashGetAsync(RedisKeys.CallState("df"), "mode"), Is.EqualTo(RedisValue.Null));
        Assert.That(await db.KeyExistsAsync(RedisKeys.CallState("df")), Is.True, "the new owner's hash stays");

        // The new owner's lane writes at its epoch, after the sequence the hash has.
        var mine = _outbox.Lane("df");
        mine.Own("b", 2, seq: 1);
        mine.Enqueue(new ReplyWrite("df", Msg(4)));
        await Waits.UntilAsync(() => _seen.Count == 2, 10, "the new owner's write");
        Assert.That(_seen.Last(), Is.EqualTo(Msg(4)));
    }

    [Test]
    public async Task WhileRedisIsUnreachableWritesWaitInOrderUpToTheLimitAndGoOutWhenItIsBack()
    {
        await StartAsync(limit: 5);
        _gate.Close();
        var a = _outbox.Lane("da");
        var b = _outbox.Lane("db");
        for (var i = 1; i <= 3; i++) a.Enqueue(new ReplyWrite("da", "a" + Msg(i)));
        for (var i = 1; i <= 4; i++) b.Enqueue(new ReplyWrite("db", "b" + Msg(i)));
        await Waits.UntilAsync(() => !_outbox.Online, 5, "the outbox to notice");
        Assert.That(_outbox.Waiting, Is.EqualTo(5));
        Assert.That(_metrics.OutboxDropped.Value, Is.EqualTo(2), "two beyond REDIS_OUTBOX_LIMIT");
        Assert.That(_log.Lines.Count(l => l.Contains("outbox is full")), Is.EqualTo(1), "logged once for the outage");
        Assert.That(_seen, Is.Empty);

        _gate.Open();
        await Waits.UntilAsync(() => _outbox.Waiting == 0 && _seen.Count == 5, 10, "the waiting writes to go");
        var seen = _seen.ToList();
        Assert.That(seen.Where(m => m.StartsWith('a')), Is.EqualTo(new[] { "a" + Msg(1), "a" + Msg(2), "a" + Msg(3) }));
        Assert.That(seen.Where(m => m.StartsWith('b')), Is.EqualTo(new[] { "b" + Msg(1), "b" + Msg(2) }));
        Assert.That(_log.Lines.Count(l => l.Contains("Redis unreachable")), Is.EqualTo(1));
        Assert.That(_log.Lines.Single(l => l.Contains("reachable again")), Does.Contain("2 were dropped"));
    }

    [Test]
    public async Task ARedisThatLostItsDataGetsTheCallsConfirmedStateBackBeforeItsNextWrite()
    {
        await StartAsync();
        const string job = "{\"dial_id\": \"dw\"}";
        await _redis.Db.ListRightPushAsync(_keys.Processing, job); // where BLMOVE put it
        var lane = _outbox.Track("dw", "o1", "u1", job);
        lane.Enqueue(new StateWrite("dw", [("owner", "inst-1"), ("uuid_0", "A")]));
        lane.Enqueue(new CallEventWrite("dw", "o1", "u1", "start", resetsHistory: true, ActiveChange.None, 0));
        lane.Enqueue(new CallEventWrite("dw", "o1", "u1", "answer 1", resetsHistory: false, ActiveChange.Add, 1));
        await Waits.UntilAsync(() => _outbox.Waiting == 0 && _seen.Count == 2, 10, "the first writes");

        // Redis restarts without persistence: everything is gone
        _gate.Close();
        await _redis.KillAsync();
        await _redis.RestartAsync();
        Assert.That(await _redis.Db.KeyExistsAsync(RedisKeys.CallState("dw")), Is.False);
        lane.Enqueue(new CallEventWrite("dw", "o1", "u1", "hangup 1", resetsHistory: false, ActiveChange.Remove, 1));
        await Waits.UntilAsync(() => !_outbox.Online, 5, "the outbox to notice");
        await SubscriberBackAsync();
        _gate.Open();

        await Waits.UntilAsync(() => _outbox.Waiting == 0 && _seen.Contains("hangup 1"), 10, "the hangup after the write-back");
        Assert.That(_log.Lines.Count(l => l.Contains("restarted (new run_id): wrote back the state of 1 call")), Is.EqualTo(1));
        var state = (await _redis.Db.HashGetAllAsync(RedisKeys.CallState("dw"))).ToDictionary(e => (string)e.Name!, e => (string)e.Value!);
        Assert.That(state, Is.EqualTo(new Dictionary<string, string> { ["owner"] = "inst-1", ["uuid_0"] = "A", ["seq"] = "3", ["pub"] = "3" }),
            "the fields back, and the sequence went on from 2: the hangup was not taken for a repeat");
        Assert.That((string?)await _redis.Db.StringGetAsync(RedisKeys.Dialled("dw")), Is.EqualTo("inst-1"), "the dial_id is still dialled");
        Assert.That((await _redis.Db.ListRangeAsync(_keys.Processing)).Select(v => (string)v!), Is.EqualTo(new[] { job }), "the job is back in processing");
        Assert.That(await _redis.Db.KeyExistsAsync(RedisKeys.Active("dw", "o1", "u1")), Is.False, "the answered side was written back, then removed by its hangup");
        Assert.That((await _redis.Db.ListRangeAsync(RedisKeys.History("o1", "u1"))).Select(v => (string)v!), Is.EqualTo(new[] { "hangup 1" }),
            "history is not written back: only what came after");
    }

    [Test]
    public async Task AfterTheWriteBackTheActiveListHoldsTheAnsweredSides()
    {
        await StartAsync();
        var lane = _outbox.Track("dx", "o1", "u2", null);
        lane.Enqueue(new CallEventWrite("dx", "o1", "u2", "answer 0", resetsHistory: false, ActiveChange.Add, 0));
        lane.Enqueue(new CallEventWrite("dx", "o1", "u2", "answer 1", resetsHistory: false, ActiveChange.Add, 1));
        lane.Enqueue(new CallEventWrite("dx", "o1", "u2", "hangup 1", resetsHistory: false, ActiveChange.Remove, 1));
        await Waits.UntilAsync(() => _outbox.Waiting == 0 && _seen.Count == 3, 10, "the writes");
        _gate.Close();
        await _redis.KillAsync();
        await _redis.RestartAsync();
        await Waits.UntilAsync(() => !_outbox.Online, 5, "the outbox to notice");
        _gate.Open();
        await Waits.UntilAsync(() => _outbox.Online, 10, "the outbox back");
        Assert.That((await _redis.Db.ListRangeAsync(RedisKeys.Active("dx", "o1", "u2"))).Select(v => (string)v!), Is.EqualTo(new[] { "ACTIVE.0" }));
        Assert.That((string?)await _redis.Db.HashGetAsync(RedisKeys.CallState("dx"), "seq"), Is.EqualTo("3"));
    }

    [Test]
    public async Task AWriteTheInstanceHeardGoOutIsNotPublishedAgainWhenRedisLostItsGate()
    {
        await StartAsync();
        var lane = _outbox.Track("dh", "o1", "u3", null);
        lane.Enqueue(new CallEventWrite("dh", "o1", "u3", "start", resetsHistory: true, ActiveChange.None, 0));
        await Waits.UntilAsync(() => _outbox.Waiting == 0 && _seen.Count == 1, 10, "call-start");

        // The answer goes to Redis, which dies before its reply: this instance's own subscription heard it go out.
        _gate.Close();
        lane.Enqueue(new CallEventWrite("dh", "o1", "u3", "answer 0", resetsHistory: false, ActiveChange.Add, 0));
        await Waits.UntilAsync(() => !_outbox.Online, 5, "the write to fail");
        lane.Hear("answer 1"); // not the write in flight: ignored
        lane.Hear("answer 0");
        await _redis.KillAsync();
        await _redis.RestartAsync();
        await SubscriberBackAsync();
        _gate.Open();

        await Waits.UntilAsync(() => _outbox.Waiting == 0 && _outbox.Online, 10, "the retry");
        lane.Enqueue(new CallEventWrite("dh", "o1", "u3", "hangup 0", resetsHistory: false, ActiveChange.Remove, 0));
        await Waits.UntilAsync(() => _outbox.Waiting == 0 && _seen.Contains("hangup 0"), 10, "the hangup");
        Assert.That(_seen, Is.EqualTo(new[] { "start", "hangup 0" }), "the answer was not published a second time");
        Assert.That((string?)await _redis.Db.HashGetAsync(RedisKeys.CallState("dh"), "seq"), Is.EqualTo("3"));
        Assert.That((await _redis.Db.ListRangeAsync(RedisKeys.History("o1", "u3"))).Select(v => (string)v!), Is.EqualTo(new[] { "hangup 0", "answer 0" }),
            "its bookkeeping was done");
    }

    [Test]
    public async Task TheGateRecordsAHeardMessageWithoutPublishingItAndRepublishesOneInDoubt()
    {
        await StartAsync();
        var db = _redis.Db;
        var heard = await db.ScriptEvaluateAsync(OutboxScripts.Announce, OutboxScripts.GateKeys("dg"), [1, 60, "dg", "m1", 1, "", 0, ""]);
        var next = await db.ScriptEvaluateAsync(OutboxScripts.Announce, OutboxScripts.GateKeys("dg"), [2, 60, "dg", "m2", 0, "", 0, ""]);
        // m2 recorded, but Redis died before sending it to anyone (killed in its AOF fsync): in doubt, it goes again
        var doubt = await db.ScriptEvaluateAsync(OutboxScripts.Announce, OutboxScripts.GateKeys("dg"), [2, 60, "dg", "m2", 2, "", 0, ""]);
        var repeat = await db.ScriptEvaluateAsync(OutboxScripts.Announce, OutboxScripts.GateKeys("dg"), [2, 60, "dg", "m2", 0, "", 0, ""]);
        Assert.That(((long)heard, (long)next, (long)doubt, (long)repeat), Is.EqualTo((3L, 1L, 4L, 2L)));
        await Waits.UntilAsync(() => _seen.Count == 2, 5, "m2 twice");
        Assert.That(_seen, Is.EqualTo(new[] { "m2", "m2" }));
    }
}
