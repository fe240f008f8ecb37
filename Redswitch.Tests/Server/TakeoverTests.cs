using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using NUnit.Framework.Interfaces;
using Redswitch.Simulator;
using Redswitch.Tests.Infrastructure;
using StackExchange.Redis;
using static Redswitch.Tests.Server.Jobs;

namespace Redswitch.Tests.Server;

/// <summary>
/// Calls outlive the instance that placed them (SPEC §3.3, §8.1): the server runs as real processes (<see cref="ServerProcess"/>)
/// against a real redis-server and the in-process simulator; the owner is killed with SIGKILL (or frozen with SIGSTOP)
/// and a peer — or the same INSTANCE_ID restarted — must regain its calls within INSTANCE_LEASE + 2 s, publish every
/// side's end exactly once, answer every control message exactly once, and never dial a job twice.
/// <para>
/// Observation: one pattern subscription on every test channel, read as a queue (handlers run concurrently); the
/// simulator's one-line-per-leg log tells which sides were dialled and answered (every call has its own phone
/// numbers). Take-over time = from the SIGKILL (SIGSTOP) until the state hash names the new owner and the new owner has
/// answered a control message (an unknown type, which changes nothing: SPEC §5 answers it with a failure).
/// </para>
/// </summary>
[Category("e2e")]
[Category("takeover")]
[NonParallelizable]
public partial class TakeoverTests
{
    private const int Lease = 3;
    /// <summary>SPEC §8.1: regained (claimed and subscribed) within INSTANCE_LEASE + 2 s of the death.</summary>
    private const double TakeoverLimit = Lease + 2;
    /// <summary>Measurement slack on the reply: probes are resent every 0.25 s (one sent before the subscription is lost).</summary>
    private const double ProbeSlack = 0.5;
    /// <summary>How long after the kill a take-over is waited for at most (beyond the limit, so slow ones are measured).</summary>
    private const double GiveUpAfter = TakeoverLimit + 5;
    /// <summary>Ringing phones: "soon" answers in the gap (after the kill, before a claim is possible), "late" after the take-over.</summary>
    private const double SoonSeconds = 8, LateSeconds = 18;
    /// <summary>The owner is killed this long after the "soon" phones started ringing (so they answer ~2 s after the kill).</summary>
    private const double KillAfterRinging = 6;
    private const string ProbeType = "takeover-probe";

    private Rig _rig = null!;
    private readonly SortedDictionary<string, Stats> _stats = new(StringComparer.Ordinal);

    [SetUp]
    public async Task SetUp()
    {
        _stats.Clear();
        _rig = await Rig.StartAsync();
    }

    [TearDown]
    public async Task TearDown()
    {
        if (_rig is null) return;
        if (TestContext.CurrentContext.Result.Outcome.Status == TestStatus.Failed) TestContext.Out.WriteLine(_rig.DumpProcesses());
        await _rig.DisposeAsync();
    }

    // ====================================================================== the harness itself

    [Test]
    public async Task Harness_TwoInstancesRegisterAndCallGoesThrough()
    {
        var rig = _rig;
        var started = await Task.WhenAll(rig.StartInstanceAsync("smoke-a"), rig.StartInstanceAsync("smoke-b"));
        var (a, b) = (started[0], started[1]);
        var now = await rig.RedisTimeMsAsync();
        foreach (var p in started)
        {
            var score = await rig.Redis.Db.SortedSetScoreAsync(Rig.Instances, p.Name);
            Assert.That(score, Is.Not.Null, $"{p.Name} registered in {Rig.Instances}");
            Assert.That(score!.Value, Is.GreaterThan(now), $"{p.Name}'s lease lies in the future");
        }

        var call = rig.NewCall(new Spec(Kind.Answered), "smoke");
        await rig.PushAndWaitStartedAsync([call]);
        await rig.WaitEventAsync(call, "answer-event", "0", 10);
        await rig.WaitEventAsync(call, "answer-event", "1", 10);
        var events = rig.Events(call).Where(m => m.Type is not ("ack" or "failure")).Select(m => m.Raw).ToList();
        Assert.That(events, Is.EqualTo(new[] { Start(call.DialId), Answer(0), Answer(1) }));

        // the metrics scrape: one job taken in all, and the owner is the instance with the live call
        Assert.That(await a.MetricAsync("redswitch_jobs_taken_total") + await b.MetricAsync("redswitch_jobs_taken_total"), Is.EqualTo(1));
        var live = new[] { await a.MetricAsync("redswitch_calls_live"), await b.MetricAsync("redswitch_calls_live") };
        Assert.That(live.Order(), Is.EqualTo(new double[] { 0, 1 }), "exactly one instance owns the call");
        var (owner, other) = live[0] == 1 ? (a, b) : (b, a);

        // SIGSTOP / SIGCONT: a frozen process does not answer; thawed, it does again
        other.Pause();
        Assert.That(await other.IsReadyAsync(0.5), Is.False, "a stopped process answers nothing");
        other.Resume();
        await other.WaitReadyAsync(10);

        var legs = (await rig.LegsAsync()).Where(l => l.Dial == call.DialId).ToList();
        Assert.That(legs.Select(l => l.Side).Order(), Is.EqualTo(new[] { 0, 1 }), "the call's two legs are up");

        await owner.Kill9Async();
        Assert.That(owner.HasExited, Is.True);
        // the calls outlive their controller (SPEC §8 Crash): watched for a second after the kill
        var until = rig.Now + 1;
        for (var i = 0; i < 100 && rig.Now < until; i++)
        {
            foreach (var l in legs) Assert.That(await rig.Sim.ChannelExistsAsync(l.Uuid), Is.True, $"side {l.Side} still up after the kill");
            await Task.Delay(50);
        }

        // cleanup: the far ends hang up (nothing here relies on a take-over)
        foreach (var l in legs) await rig.Sim.HangupAsync(l.Uuid);
        await Waits.UntilAsync(() => rig.Sim.LiveChannels == 0, 10, "every simulated leg gone");

        var pid = other.Pid;
        await other.DisposeAsync();
        Assert.That(ProcessGone(pid), Is.True, "a disposed ServerProcess leaves no process behind");
    }

    private static bool ProcessGone(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return p.HasExited;
        }
        catch (ArgumentException) { return true; }
    }

    // ====================================================================== kill -9 of the owner, one live peer

    [Test]
    public async Task Kill_AnsweredCalls_PeerClaimsEachCallAndObeysHangup()
    {
        var specs = Enumerable.Repeat(new Spec(Kind.Answered), 10).Concat(Enumerable.Repeat(new Spec(Kind.GoneInGap), 4)).ToList();
        await RunAndAssertAsync("answered", async () =>
        {
            var r = await KillRoundAsync("answered:", specs, hangupWithoutId: c => c.Index % 2 == 1);
            return r.Claimed;
        });
    }

    [Test]
    public async Task Kill_WhileRinging_CallerCalleeOrBargeLegStillRinging()
    {
        var specs = new List<Spec>();
        foreach (var t in new[] { Timing.Soon, Timing.Late, Timing.Never })
        {
            specs.Add(new Spec(Kind.CalleeRinging, t));
            specs.Add(new Spec(Kind.CalleeRinging, t));
            specs.Add(new Spec(Kind.CallerRinging, t));
            specs.Add(new Spec(Kind.CallerRinging, t));
            specs.Add(new Spec(Kind.BargeRinging, t));
            specs.Add(new Spec(Kind.BargeRinging, t));
        }
        await RunAndAssertAsync("ringing", async () => (await KillRoundAsync("ringing:", specs)).Claimed);
    }

    [Test]
    public async Task Kill_BargedCalls_ModesSurviveAndThreewayUnthreewayAreAcked()
    {
        var specs = new[] { Mode.Whisper, Mode.Mute, Mode.Threeway }.SelectMany(m => new[] { new Spec(Kind.Barged, Mode: m), new Spec(Kind.Barged, Mode: m) }).ToList();
        await RunAndAssertAsync("barged", async () => (await KillRoundAsync("barged:", specs)).Claimed);
    }

    [Test]
    public async Task TwoPeersRace_EachCallClaimedExactlyOnce()
    {
        var specs = Enumerable.Repeat(new Spec(Kind.Answered), 12).Concat(Enumerable.Repeat(new Spec(Kind.Ended), 3)).ToList();
        await RunAndAssertAsync("race", async () =>
        {
            var r = await KillRoundAsync("race:", specs, peerCount: 2);
            if (r.Claimed == 0) return 0;
            // each hash was claimed once: epoch 2 (checked at the claim, again now that everything has settled) …
            foreach (var c in r.Calls)
            {
                // (every call has ended by now and is in its grace: its hash is still there)
                var h = await _rig.HashAsync(c.DialId);
                _rig.Check(h.GetValueOrDefault("epoch") == "2", $"{c.DialId}: epoch {h.GetValueOrDefault("epoch") ?? "<none>"} after the race, expected 2");
            }
            // (the two claimers' redswitch_calls_taken_over_total adding up to the number of calls is checked at the claim)
            TestContext.Out.WriteLine("race: claimed " + string.Join(", ", await Task.WhenAll(r.Peers.Select(async p => $"{p.Name} {await p.MetricAsync("redswitch_calls_taken_over_total")}"))));
            return r.Claimed;
        });
    }

    /// <summary>The kill scenario over and over with fresh processes (and a fresh Redis) each round; one summary line per kind of call.</summary>
    [Test]
    public async Task Kill_Repeated_SummaryPerScenario()
    {
        const int rounds = 10;
        const double budgetSeconds = 260;
        var specs = new List<Spec>
        {
            new(Kind.Answered), new(Kind.Answered), new(Kind.Answered),
            new(Kind.GoneInGap),
            new(Kind.Ended), new(Kind.Ended),
            new(Kind.CalleeRinging, Timing.Never), new(Kind.CalleeRinging, Timing.Soon),
            new(Kind.CallerRinging, Timing.Soon), new(Kind.CallerRinging, Timing.Never),
            new(Kind.Barged, Mode: Mode.Whisper),
        };
        var done = 0;
        var start = _rig.Now;
        await RunAndAssertAsync("repeated", async () =>
        {
            var claimedTotal = 0;
            for (var round = 1; round <= rounds; round++)
            {
                if (_rig.Now - start > budgetSeconds)
                {
                    _rig.Check(false, $"only {done} of {rounds} rounds within {budgetSeconds} s");
                    break;
                }
                await _rig.ResetAsync();
                var r = await KillRoundAsync("repeated:", specs, round: $"round {round}: ");
                await _rig.StopProcessesAsync(keepDumpsOfFailures: true);
                done++;
                claimedTotal += r.Claimed;
                if (r.Claimed == 0)
                {
                    _rig.Check(false, $"round {round}: no call was taken over at all; stopping after {done} round(s)");
                    break;
                }
            }
            TestContext.Out.WriteLine($"takeover rounds: {done} in {_rig.Now - start:F1} s");
            return claimedTotal;
        });
    }

    // ====================================================================== restart, split brain, grace

    [Test]
    public async Task Restart_SameInstanceId_ResumesItsCallsBeforeReady()
    {
        var rig = _rig;
        var specs = Enumerable.Repeat(new Spec(Kind.Answered), 6).Concat(Enumerable.Repeat(new Spec(Kind.Ended), 2)).ToList();
        await RunAndAssertAsync("restart", async () =>
        {
            var a = await rig.StartInstanceAsync("R");
            var calls = specs.Select(s => rig.NewCall(s, "restart:")).ToList();
            await rig.PushAndWaitStartedAsync(calls);
            await Task.WhenAll(calls.Select(PreKillAsync));
            var epochs = await rig.CheckOwnedAsync(calls, a.Name, "");
            var t0 = rig.Now;
            await a.Kill9Async();
            // the same INSTANCE_ID (same ports, as an orchestrator restarts it), no peer
            var again = await rig.StartProcessAsync(new Dictionary<string, string>(a.Environment));
            var readyAfter = rig.Now - t0;
            TestContext.Out.WriteLine($"restart: ready {readyAfter:F2} s after the kill");
            // ready means resumed: every call is subscribed, so one control message each is answered at once
            var replies = await Task.WhenAll(calls.Select(async c =>
            {
                var id = await rig.SendControlAsync(c, ProbeType, probe: true);
                return (c, reply: await rig.WaitReplyAsync(c, id, 3));
            }));
            foreach (var (c, reply) in replies)
            {
                var st = Stat(c);
                if (reply is null)
                {
                    st.NotTakenOver++;
                    rig.Check(false, $"{c.DialId} [{c.Spec.Label}]: no reply to a control message sent when the restarted instance was ready");
                }
                else st.Takeover.Add(reply.At - t0);
            }
            var resumed = replies.Count(r => r.reply is not null);
            if (resumed == 0) return 0;
            foreach (var c in calls)
            {
                var h = await rig.HashAsync(c.DialId);
                rig.Check(h.GetValueOrDefault("owner") == again.Name, $"{c.DialId}: owner {h.GetValueOrDefault("owner") ?? "<none>"} after the restart, expected {again.Name}");
                rig.Check(long.TryParse(h.GetValueOrDefault("epoch"), out var e) && epochs.TryGetValue(c, out var before) && e >= before,
                    $"{c.DialId}: epoch {h.GetValueOrDefault("epoch") ?? "<none>"} after the restart, was {epochs.GetValueOrDefault(c)}");
                rig.Check(await rig.Redis.Db.SetContainsAsync(Rig.Owned(again.Name), c.DialId), $"{c.DialId}: not in {Rig.Owned(again.Name)} after the restart");
            }
            await Task.WhenAll(calls.Select(c => PostTakeoverAsync(c, "")));
            await HangupAllAsync(calls, "", null);
            await rig.FinishAsync(calls, "");
            await rig.LedgerAsync(calls, _stats, a.Name, "", countRun: true);
            return resumed;
        });
    }

    [Test]
    public async Task SigStop_SplitBrain_PausedOwnerPublishesNothingAfterSigcont()
    {
        var rig = _rig;
        var specs = Enumerable.Repeat(new Spec(Kind.Answered), 8).ToList();
        await RunAndAssertAsync("split-brain", async () =>
        {
            var a = await rig.StartInstanceAsync("S");
            var calls = specs.Select(s => rig.NewCall(s, "split-brain:")).ToList();
            await rig.PushAndWaitStartedAsync(calls);
            var peerTask = rig.StartInstanceAsync("P");
            await Task.WhenAll(calls.Select(PreKillAsync));
            var b = await peerTask;
            var epochs = await rig.CheckOwnedAsync(calls, a.Name, "");
            await rig.UntilTimeAsync(rig.SettledAt(b));

            var t0 = rig.Now;
            a.Pause();
            // control messages in the gap: nobody may answer them, and the frozen owner must not answer them later
            foreach (var c in calls) await rig.SendControlAsync(c, ProbeType, probe: true);
            var claimed = await TakeoverAsync(calls, t0, a.Name, [b], epochs, "");
            if (claimed == 0)
            {
                a.Resume();
                return 0;
            }

            // while the old owner is frozen, half of the calls end (the callee hangs up): the new owner reports it
            var ending = calls.Take(calls.Count / 2).ToList();
            var staying = calls.Skip(calls.Count / 2).ToList();
            foreach (var c in ending) await rig.Sim.HangupAsync(c.Uuids[1]!);
            foreach (var c in ending)
            {
                c.ExpectCause[1] = "NORMAL_CLEARING";
                rig.Check(await rig.TryWaitAsync(() => rig.Count(c, "hangup-event", "0") >= 1 && rig.Count(c, "hangup-event", "1") >= 1, 8),
                    $"{c.DialId}: the new owner did not report the callee's hang-up (while the old owner was frozen): {rig.Trace(c)}");
            }
            // the new owner answers control messages while the old one is frozen: the old one must not answer them again
            foreach (var c in staying)
                for (var i = 0; i < 2; i++)
                {
                    var id = await rig.SendControlAsync(c, ProbeType, probe: true);
                    rig.Check(await rig.WaitReplyAsync(c, id, 3) is not null, $"{c.DialId}: the new owner did not answer {id} (old owner frozen)");
                }
            // the old owner's sockets are still open and its subscription still there: events and messages wait for it

            var before = rig.TotalMessages(calls);
            var tCont = rig.Now;
            a.Resume();
            // it comes back: renews its lease (twice), having dropped every call it lost
            var rejoined = await rig.TryWaitAsync(async () => a.HasExited || await rig.LeaseRenewedSinceAsync(a.Name, tCont, 2), 15);
            if (a.HasExited) TestContext.Out.WriteLine($"split-brain: {a.Name} exited after SIGCONT with {a.Dump(30)}");
            else rig.Check(rejoined, $"{a.Name} did not renew its lease within 15 s after SIGCONT");
            var after = rig.MessagesSince(calls, before);
            rig.Check(after.Count == 0, $"after SIGCONT something was published on the calls' channels although nothing happened: {string.Join(" | ", after)}");
            foreach (var c in calls)
            {
                var h = await rig.HashAsync(c.DialId);
                rig.Check(h.GetValueOrDefault("owner") == b.Name && h.GetValueOrDefault("epoch") == (epochs.GetValueOrDefault(c) + 1).ToString(CultureInfo.InvariantCulture),
                    $"{c.DialId}: owner/epoch {h.GetValueOrDefault("owner")}/{h.GetValueOrDefault("epoch")} after SIGCONT, expected {b.Name}/{epochs.GetValueOrDefault(c) + 1}");
            }
            // the woken owner sent FreeSWITCH nothing: the calls it lost are still up
            foreach (var c in staying)
                foreach (var side in new[] { 0, 1 })
                    rig.Check(await rig.Sim.ChannelExistsAsync(c.Uuids[side]!), $"{c.DialId}: side {side} hung up after SIGCONT of the old owner");

            await HangupAllAsync(staying, "", null);
            await rig.FinishAsync(calls, "");
            await rig.LedgerAsync(calls, _stats, a.Name, "", countRun: true);
            return claimed;
        });
    }

    /// <summary>Ended calls are claimed in their 60 s grace (late control messages get their failure), and when the grace is over nothing of them is left.</summary>
    [Test]
    public async Task Kill_EndedCallsInGrace_ThenGraceOverNothingLeft()
    {
        var rig = _rig;
        var specs = Enumerable.Repeat(new Spec(Kind.Ended), 4).Concat(Enumerable.Repeat(new Spec(Kind.Answered), 3)).ToList();
        await RunAndAssertAsync("grace", async () =>
        {
            var r = await KillRoundAsync("grace:", specs);
            if (r.Claimed == 0) return 0;
            var lastEnd = rig.LastEventAt(r.Calls);
            var latest = r.Calls.Where(c => c.Spec.Kind == Kind.Answered).ToList();
            // ten seconds before the grace is over, a late message still gets its one failure
            await rig.UntilTimeAsync(lastEnd + 50);
            var late = latest[0];
            var reply = await rig.SendAndWaitReplyAsync(late, "hangup", withoutId: false, seconds: 5);
            rig.Check(reply is { Type: "failure", Event: "hangup", Cause: "call ended" },
                $"{late.DialId}: a hangup 50 s after the end got {reply?.Raw ?? "no reply"}, expected the failure \"call ended\"");

            // then everything goes: state hash, index entry, active list
            var gone = await rig.TryWaitAsync(async () => (await rig.LeftoversAsync(r.Calls)).Count == 0, lastEnd + 60 + 8 - rig.Now);
            var left = await rig.LeftoversAsync(r.Calls);
            rig.Check(gone, $"{rig.Now - lastEnd:F1} s after the last end, still there: {string.Join(", ", left)}");
            await rig.SettleAsync();
            var replies = rig.Replies(late).Count(m => m.Id == rig.LastId(late));
            rig.Check(replies == 1, $"{late.DialId}: {replies} replies to the late hangup");
            return r.Claimed;
        });
    }

    /// <summary>
    /// SPEC §8.1 "Claim": the owner dies and its FreeSWITCH node restarts meanwhile (same address, new Core-UUID, every
    /// channel gone). The peer's control link comes back to the new node, the peer claims the calls, and every side that
    /// was up ends with exactly one hangup-event SYSTEM_SHUTDOWN; nothing else is published, a late hangup gets its one
    /// failure, and nothing is dialled on (or left on) the new node.
    /// </summary>
    [Test]
    public async Task ACallerWhoAnswersAfterItsOwnerDiedReachesAListedPeerWhichClaimsTheCallAndBridgesIt()
    {
        // SPEC §8.1 "Calls being set up": the socket app's host list names live peers after the owner, so FreeSWITCH,
        // unable to reach the dead owner, connects the caller to a peer, which claims the call on that connection.
        var rig = _rig;
        var started = await Task.WhenAll(rig.StartInstanceAsync("A"), rig.StartInstanceAsync("B"));
        var since = rig.Now;
        // each has looked at the live instances (every second, with its renewal) since both were up
        Assert.That(await rig.TryWaitAsync(async () =>
            await rig.LeaseRenewedSinceAsync(started[0].Name, since, 2) && await rig.LeaseRenewedSinceAsync(started[1].Name, since, 2), 10), Is.True,
            "both leases renewed twice");
        var call = rig.NewCall(new Spec(Kind.CallerRinging, Timing.Soon), "socket-hosts:");
        await rig.PushAndWaitStartedAsync([call]);
        call.RingStartedAt = rig.Events(call).First(m => m.Type == "call-start").At;
        var owner = (await rig.HashAsync(call.DialId))["owner"];
        var victim = started.Single(p => p.Name == owner);
        var peer = started.Single(p => p.Name != owner);

        // the caller answers about two seconds after the kill: in the gap, before any claim
        await rig.UntilTimeAsync(call.RingStartedAt + KillAfterRinging);
        var t0 = rig.Now;
        await victim.Kill9Async();
        Assert.That(rig.Events(call).Any(m => m.Type == "answer-event"), Is.False, "the caller was still ringing at the kill");
        var bridged = await rig.WaitEventAsync(call, "answer-event", "1", 20);
        TestContext.Out.WriteLine($"socket-hosts: the callee answered {bridged.At - t0:F2} s after the kill, bridged by {peer.Name}");
        Assert.That(peer.Out.Any(l => l.Contains("claimed on its caller's connection")), Is.True, "claimed on the caller's connection:\n" + peer.Dump());
        var state = await rig.HashAsync(call.DialId);
        Assert.That((state["owner"], state["epoch"]), Is.EqualTo((peer.Name, "2")));
        Assert.That(await rig.Redis.Db.SetContainsAsync(Rig.Owned(peer.Name), call.DialId), Is.True);

        var reply = await rig.SendAndWaitReplyAsync(call, "hangup", withoutId: false, 10);
        Assert.That(reply?.Type, Is.EqualTo("ack"), rig.Trace(call));
        await rig.WaitEventAsync(call, "hangup-event", "0", 10);
        await rig.WaitEventAsync(call, "hangup-event", "1", 10);
        await rig.SettleAsync();
        foreach (var (type, side) in new[] { ("call-start", (string?)null), ("answer-event", "0"), ("answer-event", "1"), ("hangup-event", "0"), ("hangup-event", "1") })
            Assert.That(rig.Count(call, type, side), Is.EqualTo(1), $"{type} {side}: {rig.Trace(call)}");
        Assert.That(rig.Replies(call), Has.Count.EqualTo(1), rig.Trace(call));
        Assert.That(await rig.TryWaitAsync(async () => (await rig.LegsAsync()).Count == 0, 10), Is.True, "the simulator ends with no leg");
        Assert.That(await peer.MetricAsync("redswitch_calls_taken_over_total"), Is.EqualTo(1));
    }

    [Test]
    public async Task Kill_NodeRestartedMeanwhile_EverySideEndsWithSystemShutdown()
    {
        var rig = _rig;
        // the claim waits for the peer's control link to reconnect to the new node first (its reconnect backoff)
        const double claimLimit = 15;
        const string lateHangup = """{"type": "hangup", "id": 1}""";
        const string lateHangupReply = """{"type": "failure", "event": "hangup", "cause": "call ended", "id": 1}""";
        var specs = Enumerable.Repeat(new Spec(Kind.Answered), 4).Append(new Spec(Kind.Barged, Mode: Mode.Whisper)).ToList();
        await RunAndAssertAsync("node-restarted", async () =>
        {
            var a = await rig.StartInstanceAsync("A");
            var calls = specs.Select(s => rig.NewCall(s, "node-restarted:")).ToList();
            await rig.PushAndWaitStartedAsync(calls);
            // the peer starts once A has taken every job
            var peerTask = rig.StartInstanceAsync("B");
            await Task.WhenAll(calls.Select(PreKillAsync));
            var b = await peerTask;
            var epochs = await rig.CheckOwnedAsync(calls, a.Name, "");
            foreach (var key in calls.Select(c => c.StatsKey).Distinct()) Stat(key).Runs++;

            // the sides up at the kill: each ends with SYSTEM_SHUTDOWN (the node lost it), and only those have events afterwards
            var up = calls.ToDictionary(c => c, c => c.Spec.Kind == Kind.Barged ? new[] { 0, 1, 2 } : new[] { 0, 1 });
            foreach (var c in calls)
                foreach (var s in up[c])
                {
                    Assert.That(c.Uuids[s] is { } u && await rig.Sim.ChannelExistsAsync(u), Is.True, $"{c.DialId} [{c.Spec.Label}]: side {s} up before the kill");
                    c.ExpectCause[s] = "SYSTEM_SHUTDOWN";
                }
            var oldCores = new Dictionary<TestCall, string?>();
            foreach (var c in calls) oldCores[c] = (await rig.HashAsync(c.DialId)).GetValueOrDefault("core");
            var seenBefore = calls.ToDictionary(c => c, c => rig.Events(c).Count);

            // the peer may claim only after a full lease connected (SPEC §8.1)
            await rig.UntilTimeAsync(rig.SettledAt(b));
            var t0 = rig.Now;
            await a.Kill9Async();
            var port = rig.Sim.Port;
            await rig.RestartSimulatorAsync();
            var simBackAfter = rig.Now - t0;
            Assert.That(rig.Sim.Port, Is.EqualTo(port), "the new simulator listens on the old one's port");
            string newCore;
            await using (var esl = await Redswitch.Tests.Simulator.EslTestClient.ConnectAuthedAsync(rig.Sim.Port))
                newCore = (await esl.ApiAsync("global_getvar core_uuid")).Trim();
            foreach (var c in calls)
                rig.Check(!string.IsNullOrEmpty(oldCores[c]) && oldCores[c] != newCore,
                    $"{c.DialId}: the hash's core is '{oldCores[c] ?? "<none>"}', the restarted node's Core-UUID '{newCore}': not a restart the claimer can see");

            // B's link comes back to the new node, B claims every call: owner B (then epoch 2, index sets: CheckClaimedAsync)
            var claimedAt = new ConcurrentDictionary<TestCall, double>();
            await rig.TryWaitAsync(async () =>
            {
                foreach (var c in calls.Where(c => !claimedAt.ContainsKey(c)))
                    if ((string?)await rig.Redis.Db.HashGetAsync(Rig.StateKey(c.DialId), "owner") == b.Name) claimedAt[c] = rig.Now - t0;
                return claimedAt.Count == calls.Count;
            }, t0 + claimLimit + 5 - rig.Now);
            // … and every side that was up gets its SYSTEM_SHUTDOWN at once
            await rig.TryWaitAsync(() => calls.Where(claimedAt.ContainsKey).All(c => up[c].All(s => rig.Count(c, "hangup-event", S(s)) >= 1)), 5);
            var endedAt = new Dictionary<TestCall, double>();
            foreach (var c in calls)
            {
                var st = Stat(c);
                var who = $"{c.DialId} [{c.Spec.Label}]";
                if (!claimedAt.TryGetValue(c, out var claimed))
                {
                    st.NotTakenOver++;
                    var h = await rig.HashAsync(c.DialId);
                    rig.Check(false, $"{who}: not claimed within {claimLimit + 5} s of the kill (owner {h.GetValueOrDefault("owner") ?? "<none>"}, epoch {h.GetValueOrDefault("epoch") ?? "<none>"})");
                    continue;
                }
                rig.Check(claimed <= claimLimit, $"{who}: claimed {claimed:F2} s after the kill, allowed {claimLimit} s (the node restarted)");
                var hangups = rig.Events(c).Where(m => m.Type == "hangup-event").ToList();
                if (up[c].All(s => hangups.Any(m => m.Side == S(s))))
                {
                    endedAt[c] = hangups.Max(m => m.At) - t0;
                    st.Takeover.Add(Math.Max(claimed, endedAt[c]));
                }
                else
                {
                    st.NotTakenOver++;
                    rig.Check(false, $"{who}: claimed after {claimed:F2} s, but not every side that was up has its hangup-event 5 s later: {rig.Trace(c)}");
                }
            }
            if (claimedAt.IsEmpty) return 0;
            await rig.CheckClaimedAsync(calls, epochs, a.Name, new HashSet<string> { b.Name }, "");
            var taken = await b.MetricAsync("redswitch_calls_taken_over_total");
            rig.Check(taken == calls.Count, $"redswitch_calls_taken_over_total = {taken} on {b.Name}, expected {calls.Count}");
            await rig.SettleAsync();

            // a late hangup: the call has ended, exactly one failure
            foreach (var c in calls)
            {
                c.SentMessages.Enqueue(new Sent("hangup", "1", rig.Now, false));
                await rig.Redis.Db.PublishAsync(RedisChannel.Literal(c.DialId), lateHangup);
            }
            await rig.TryWaitAsync(() => calls.All(c => rig.Replies(c).Any(m => m.Id == "1")), 8);
            await rig.SettleAsync();

            // the ledger: after the kill exactly one SYSTEM_SHUTDOWN per side that was up and the one failure, nothing else
            var dead = (await rig.Redis.Db.ListRangeAsync(Rig.DeadList)).Select(v => (string?)v ?? "").ToList();
            var jobs = (await rig.Redis.Db.ListRangeAsync(JobList)).Select(v => (string?)v ?? "").ToList();
            var processing = (await rig.Redis.Db.ListRangeAsync(Rig.Processing(a.Name))).Select(v => (string?)v ?? "").ToList();
            foreach (var c in calls)
            {
                var st = Stat(c);
                st.Calls++;
                var p = new List<string>();
                var all = rig.Events(c);
                var after = all.Skip(seenBefore[c]).Select(m => m.Raw).ToList();
                var expected = up[c].Select(s => Hangup(s, "SYSTEM_SHUTDOWN")).Append(lateHangupReply).ToList();
                for (var side = 0; side < 3; side++)
                {
                    var n = all.Count(m => m.Type == "hangup-event" && m.Side == S(side));
                    if (up[c].Contains(side))
                    {
                        if (n == 1) st.Once++;
                        else if (n == 0) { st.Missing++; p.Add($"side {side}: no hangup-event"); }
                        else { st.Duplicated++; p.Add($"side {side}: {n} hangup-events"); }
                    }
                    else if (n > 0) p.Add($"side {side} was never dialled but has {n} hangup-event(s)");
                }
                foreach (var m in after.Where(m => !expected.Contains(m)).Distinct()) p.Add($"published after the kill, not expected: {m}");
                foreach (var m in expected)
                {
                    var n = after.Count(x => x == m);
                    if (n != 1) p.Add($"{n} × {m} after the kill, expected once");
                }
                if (after.IndexOf(lateHangupReply) is var r and >= 0 && after.Take(r).Count(m => m.Contains("\"hangup-event\"")) != up[c].Length)
                    p.Add("the late hangup's failure came before every side's hangup-event");
                var h = await rig.HashAsync(c.DialId);
                if (!h.ContainsKey("ended_at")) p.Add($"no ended_at in {Rig.StateKey(c.DialId)} (owner {h.GetValueOrDefault("owner") ?? "<none>"})");
                if (await rig.Redis.Db.KeyExistsAsync(Rig.ActiveKey(c)))
                    p.Add($"active list left: {string.Join(",", (await rig.Redis.Db.ListRangeAsync(Rig.ActiveKey(c))).Select(v => (string?)v))}");
                var tag = $"\"dial_id\": \"{c.DialId}\"";
                if (dead.Any(j => j.Contains(c.DialId, StringComparison.Ordinal))) { st.JobsLost++; p.Add("dead-lettered"); }
                if (processing.Any(j => j.Contains(tag, StringComparison.Ordinal))) { st.JobsLost++; p.Add($"still in {Rig.Processing(a.Name)}"); }
                if (jobs.Any(j => j.Contains(tag, StringComparison.Ordinal))) { st.DialledTwice++; p.Add("back in the job list"); }
                if (p.Count > 0) rig.Check(false, $"{c.DialId} [{c.Spec.Label}]: {string.Join("; ", p)}\n    trace: {rig.Trace(c)}");
            }
            // the restarted node: nothing dialled there, nothing left
            rig.Check(rig.Sim.LiveChannels == 0, $"{rig.Sim.LiveChannels} leg(s) on the restarted node: {string.Join(", ", await rig.Sim.GetChannelUuidsAsync())}");
            rig.Check(rig.Sim.SessionsSinceStartup == 0, $"{rig.Sim.SessionsSinceStartup} session(s) created on the restarted node, expected none");

            static string F(IEnumerable<double> v) => v.Any() ? $"{v.Min():F2}–{v.Max():F2}" : "-";
            TestContext.Out.WriteLine($"node-restarted: simulator back on port {port} {simBackAfter:F2} s after the kill (Core-UUID {oldCores.Values.FirstOrDefault()} → {newCore});"
                                      + $" claimed {F(claimedAt.Values)} s, SYSTEM_SHUTDOWN hangup-events {F(endedAt.Values)} s after the kill (allowed {claimLimit} s)");
            return claimedAt.Count;
        });

        static string S(int side) => side.ToString(CultureInfo.InvariantCulture);
    }

    // ====================================================================== the kill round

    private sealed record Round(List<TestCall> Calls, int Claimed, ServerProcess Victim, List<ServerProcess> Peers);

    /// <summary>
    /// One instance takes every job, its peer(s) start, the calls reach their state, the owner is killed with SIGKILL;
    /// then the take-over is measured and checked, the calls are driven after it, hung up through control messages, and
    /// the ledger (every side ended once, every message answered once, no job lost or dialled twice) is written.
    /// </summary>
    private async Task<Round> KillRoundAsync(string scenario, IReadOnlyList<Spec> specs, int peerCount = 1, string round = "",
        Func<TestCall, bool>? hangupWithoutId = null)
    {
        var rig = _rig;
        var victim = await rig.StartInstanceAsync("A");
        var calls = specs.Select(s => rig.NewCall(s, scenario)).ToList();
        await rig.PushAndWaitStartedAsync(calls);
        // the peers start once the victim has taken every job (they would take some otherwise)
        var peersTask = Task.WhenAll(Enumerable.Range(0, peerCount).Select(i => rig.StartInstanceAsync(i == 0 ? "B" : "C")));
        await Task.WhenAll(calls.Select(PreKillAsync));
        var peers = (await peersTask).ToList();
        var epochs = await rig.CheckOwnedAsync(calls, victim.Name, round);
        foreach (var key in calls.Select(c => c.StatsKey).Distinct()) Stat(key).Runs++;

        // a peer claims only after a full lease connected (SPEC §8.1); "soon" phones must answer after the kill
        var killAt = peers.Max(rig.SettledAt);
        var soon = calls.Where(c => c.Spec.Timing == Timing.Soon).ToList();
        if (soon.Count > 0) killAt = Math.Max(killAt, soon.Max(c => c.RingStartedAt) + KillAfterRinging);
        await rig.UntilTimeAsync(killAt);
        var t0 = rig.Now;
        await victim.Kill9Async();
        // in the gap: the callee of these calls hangs up, so both legs are gone when the new owner looks
        foreach (var c in calls.Where(c => c.Spec.Kind == Kind.GoneInGap)) await rig.Sim.HangupAsync(c.Uuids[1]!);
        var early = soon.Count(c => c.RingStartedAt + c.RingSeconds < t0);
        if (early > 0) TestContext.Out.WriteLine($"{round}{early} 'soon' phone(s) answered before the kill (peer slow to start): they took the ordinary path");

        var claimed = await TakeoverAsync(calls, t0, victim.Name, peers, epochs, round);
        if (claimed == 0) return new Round(calls, 0, victim, peers);
        await Task.WhenAll(calls.Select(c => PostTakeoverAsync(c, round)));
        await HangupAllAsync(calls, round, hangupWithoutId);
        await rig.FinishAsync(calls, round);
        await rig.LedgerAsync(calls, _stats, victim.Name, round, countRun: false);
        return new Round(calls, claimed, victim, peers);
    }

    /// <summary>Measures and checks the take-over of <paramref name="calls"/> by <paramref name="claimers"/>; returns how many were claimed.</summary>
    private async Task<int> TakeoverAsync(IReadOnlyList<TestCall> calls, double t0, string victim, IReadOnlyList<ServerProcess> claimers,
        IReadOnlyDictionary<TestCall, long> epochs, string round)
    {
        var rig = _rig;
        var names = claimers.Select(p => p.Name).ToHashSet();
        var results = await rig.MeasureTakeoverAsync(calls, t0, names, GiveUpAfter);
        foreach (var c in calls)
        {
            var r = results[c];
            var st = Stat(c);
            if (r.ReplyAfter is { } t) st.Takeover.Add(t);
            else st.NotTakenOver++;
            if (r.OwnerAfter is null)
                rig.Check(false, $"{round}{c.DialId} [{c.Spec.Label}]: not claimed within {GiveUpAfter} s of the kill (owner still {r.LastOwner ?? "<none>"})");
            else if (r.ReplyAfter is null)
                rig.Check(false, $"{round}{c.DialId} [{c.Spec.Label}]: claimed by {r.LastOwner} after {r.OwnerAfter:F2} s, but no control message answered within {GiveUpAfter + 2} s of the kill");
            else
            {
                rig.Check(r.OwnerAfter <= TakeoverLimit, $"{round}{c.DialId} [{c.Spec.Label}]: claimed {r.OwnerAfter:F2} s after the kill, limit INSTANCE_LEASE + 2 = {TakeoverLimit} s");
                rig.Check(r.ReplyAfter <= TakeoverLimit + ProbeSlack, $"{round}{c.DialId} [{c.Spec.Label}]: first control message answered {r.ReplyAfter:F2} s after the kill, limit {TakeoverLimit} s (+{ProbeSlack} s measuring)");
            }
        }
        var claimed = calls.Count(c => results[c].OwnerAfter is not null);
        if (claimed == 0) return 0;
        await rig.CheckClaimedAsync(calls, epochs, victim, names, round);
        var taken = 0.0;
        foreach (var p in claimers) taken += await p.MetricAsync("redswitch_calls_taken_over_total");
        rig.Check(taken == calls.Count, $"{round}redswitch_calls_taken_over_total = {taken} on the claimer(s), expected {calls.Count}");
        return claimed;
    }

    /// <summary>Brings a call to the state its kind describes, with the victim alive (set-up: fails the test at once when it goes wrong).</summary>
    private async Task PreKillAsync(TestCall c)
    {
        var rig = _rig;
        switch (c.Spec.Kind)
        {
            case Kind.Answered:
            case Kind.GoneInGap:
                await rig.WaitEventAsync(c, "answer-event", "0", 10);
                await rig.WaitEventAsync(c, "answer-event", "1", 10);
                break;
            case Kind.Ended:
                await rig.WaitEventAsync(c, "hangup-event", "0", 10);
                await rig.WaitEventAsync(c, "hangup-event", "1", 10);
                break;
            case Kind.CalleeRinging:
                c.RingStartedAt = (await rig.WaitEventAsync(c, "answer-event", "0", 10)).At;
                break;
            case Kind.CallerRinging:
                c.RingStartedAt = rig.Events(c).First(m => m.Type == "call-start").At;
                break;
            case Kind.Barged:
            {
                await rig.WaitEventAsync(c, "answer-event", "1", 10);
                await ExpectAckAsync(c, "barge", Barge(c));
                await rig.WaitEventAsync(c, "answer-event", "2", 10);
                await rig.FindUuidsAsync(c);
                Assert.That(await rig.WaitModeAsync(c, "listen"), Is.EqualTo("listen"), $"{c.DialId}: a barger starts muted");
                switch (c.Spec.Mode)
                {
                    case Mode.Whisper:
                        await ExpectAckAsync(c, "whisper");
                        Assert.That(await rig.WaitModeAsync(c, "target"), Is.EqualTo("target"), $"{c.DialId}: whisper");
                        break;
                    case Mode.Mute:
                        await ExpectAckAsync(c, "whisper");
                        Assert.That(await rig.WaitModeAsync(c, "target"), Is.EqualTo("target"), $"{c.DialId}: whisper");
                        await ExpectAckAsync(c, "mute");
                        Assert.That(await rig.WaitModeAsync(c, "listen"), Is.EqualTo("listen"), $"{c.DialId}: mute");
                        break;
                    case Mode.Threeway:
                        await ExpectAckAsync(c, "threeway");
                        Assert.That(await rig.WaitModeAsync(c, "both"), Is.EqualTo("both"), $"{c.DialId}: threeway");
                        break;
                }
                break;
            }
            case Kind.BargeRinging:
            {
                await rig.WaitEventAsync(c, "answer-event", "1", 10);
                var ack = await ExpectAckAsync(c, "barge", Barge(c));
                c.RingStartedAt = ack.At;
                break;
            }
        }
        await rig.FindUuidsAsync(c);
    }

    private static string Barge(TestCall c) => $", \"phone_number\": \"{c.Numbers[2]}\", \"caller_id\": \"777-777-7777\"";

    private async Task<Seen> ExpectAckAsync(TestCall c, string type, string? extra = null)
    {
        var reply = await _rig.SendAndWaitReplyAsync(c, type, withoutId: false, seconds: 5, extra: extra);
        Assert.That(reply, Is.Not.Null, $"{c.DialId}: no reply to {type}: {_rig.Trace(c)}");
        Assert.That((reply!.Type, reply.Event), Is.EqualTo(("ack", type)), $"{c.DialId}: reply to {type}: {reply.Raw}");
        return reply;
    }

    /// <summary>Drives a call after the take-over as its kind says; every deviation is recorded (the test goes on).</summary>
    private async Task PostTakeoverAsync(TestCall c, string round)
    {
        var rig = _rig;
        var who = $"{round}{c.DialId} [{c.Spec.Label}]";
        switch (c.Spec.Kind)
        {
            case Kind.Answered:
                foreach (var side in new[] { 0, 1 })
                    rig.Check(await rig.Sim.ChannelExistsAsync(c.Uuids[side]!), $"{who}: side {side} is not up any more after the take-over");
                break;
            case Kind.GoneInGap:
                // published by the new owner before it obeys control messages (SPEC §8.1 Resume)
                rig.Check(await rig.TryWaitAsync(() => rig.Count(c, "hangup-event", "0") >= 1 && rig.Count(c, "hangup-event", "1") >= 1, 5),
                    $"{who}: both legs ended in the gap, but the new owner did not publish both hangup-events: {rig.Trace(c)}");
                break;
            case Kind.CalleeRinging when c.Spec.Timing is Timing.Soon or Timing.Late:
                rig.Check(await rig.TryWaitAsync(() => rig.Count(c, "answer-event", "1") >= 1, c.RingStartedAt + c.RingSeconds + 10 - rig.Now),
                    $"{who}: the callee answered {(c.Spec.Timing == Timing.Soon ? "in the gap" : "after the take-over")} but no answer-event side 1: {rig.Trace(c)}");
                break;
            case Kind.CallerRinging when c.Spec.Timing is Timing.Soon or Timing.Late:
                // the caller answers; its socket names the dead owner (then maybe a peer): either the leg ends, or the call goes on at a peer
                rig.Check(await rig.TryWaitAsync(() => rig.LegEnded(c.Numbers[0]) || rig.Count(c, "answer-event", "1") >= 1, c.RingStartedAt + c.RingSeconds + 10 - rig.Now),
                    $"{who}: the caller answered after its owner died, but its leg neither ended nor reached a peer: {rig.Trace(c)}");
                break;
            case Kind.Barged:
            {
                var restored = c.Spec.Mode == Mode.Whisper ? "target" : "listen";
                await PostAckAsync(c, "threeway", "both", who);
                await PostAckAsync(c, "unthreeway", restored, who);
                break;
            }
            case Kind.BargeRinging when c.Spec.Timing is Timing.Soon or Timing.Late:
            {
                var answered = await rig.TryWaitAsync(() => rig.Count(c, "answer-event", "2") >= 1, c.RingStartedAt + c.RingSeconds + 10 - rig.Now);
                rig.Check(answered, $"{who}: the barge leg answered {(c.Spec.Timing == Timing.Soon ? "in the gap" : "after the take-over")} but no answer-event side 2: {rig.Trace(c)}");
                if (!answered) break;
                await rig.FindUuidsAsync(c);
                rig.Check(await rig.WaitModeAsync(c, "listen") == "listen", $"{who}: the barger does not listen after answering");
                await PostAckAsync(c, "threeway", "both", who);
                await PostAckAsync(c, "unthreeway", "listen", who);
                break;
            }
        }
    }

    private async Task PostAckAsync(TestCall c, string type, string mode, string who)
    {
        var rig = _rig;
        var reply = await rig.SendAndWaitReplyAsync(c, type, withoutId: false, seconds: 5);
        rig.Check(reply is { Type: "ack" } && reply.Event == type, $"{who}: {type} after the take-over got {reply?.Raw ?? "no reply"}, expected an ack");
        if (reply is { Type: "ack" })
        {
            var got = await rig.WaitModeAsync(c, mode);
            rig.Check(got == mode, $"{who}: eavesdrop mode {got ?? "<none>"} after {type}, expected {mode}");
        }
    }

    /// <summary>A hangup for every call (with an id, or without for <paramref name="withoutId"/>); each must get exactly the reply its kind expects.</summary>
    private async Task HangupAllAsync(IReadOnlyList<TestCall> calls, string round, Func<TestCall, bool>? withoutId)
    {
        var rig = _rig;
        await Task.WhenAll(calls.Select(async c =>
        {
            var who = $"{round}{c.DialId} [{c.Spec.Label}]";
            var reply = await rig.SendAndWaitReplyAsync(c, "hangup", withoutId?.Invoke(c) ?? false, seconds: 8);
            if (reply is null)
            {
                rig.Check(false, $"{who}: no reply to hangup: {rig.Trace(c)}");
                return;
            }
            var ack = reply is { Type: "ack", Event: "hangup" };
            var ended = reply is { Type: "failure", Event: "hangup", Cause: "call ended" };
            var ok = c.Spec.Kind switch
            {
                Kind.Ended or Kind.GoneInGap => ended,
                Kind.CallerRinging => ack || ended,
                _ => ack,
            };
            rig.Check(ok, $"{who}: hangup got {reply.Raw}");
        }));
    }

    // ====================================================================== results

    private Stats Stat(TestCall c) => Stat(c.StatsKey);

    private Stats Stat(string key)
    {
        if (!_stats.TryGetValue(key, out var s)) _stats[key] = s = new Stats();
        return s;
    }

    /// <summary>Runs a scenario, prints its summary lines whatever happened, then fails with every problem recorded.</summary>
    private async Task RunAndAssertAsync(string scenario, Func<Task<int>> body)
    {
        var sw = Stopwatch.StartNew();
        var claimed = 0;
        try
        {
            claimed = await body();
        }
        finally
        {
            foreach (var (key, s) in _stats) TestContext.Out.WriteLine(s.Line(key));
            TestContext.Out.WriteLine($"takeover scenario {scenario}: {sw.Elapsed.TotalSeconds:F1} s");
        }
        var problems = _rig.Problems;
        if (claimed == 0) problems.Insert(0, "no call was taken over");
        if (problems.Count > 0)
            Assert.Fail($"{scenario}: {problems.Count} problem(s):\n" + string.Join("\n", problems.Take(60)) + (problems.Count > 60 ? $"\n… and {problems.Count - 60} more" : ""));
    }

    private sealed class Stats
    {
        public int Runs, Calls, Once, Missing, Duplicated, JobsLost, DialledTwice, NotTakenOver;
        public readonly List<double> Takeover = [];

        public string Line(string scenario)
        {
            var t = Takeover.Order().ToList();
            static string F(double? v) => v?.ToString("F2", CultureInfo.InvariantCulture) ?? "-";
            double? median = t.Count == 0 ? null : t.Count % 2 == 1 ? t[t.Count / 2] : (t[t.Count / 2 - 1] + t[t.Count / 2]) / 2;
            return $"takeover summary: scenario={scenario} runs={Runs} calls={Calls} sides ended exactly once={Once} missing={Missing} duplicated={Duplicated}"
                   + $" takeover_s min={F(t.Count == 0 ? null : t[0])} median={F(median)} max={F(t.Count == 0 ? null : t[^1])} (not taken over {NotTakenOver})"
                   + $" jobs lost={JobsLost} dialled twice={DialledTwice}";
        }
    }

    // ====================================================================== calls, messages, the rig

    private enum Kind { Answered, GoneInGap, Ended, CalleeRinging, CallerRinging, Barged, BargeRinging }

    private enum Timing { None, Soon, Late, Never }

    private enum Mode { None, Whisper, Mute, Threeway }

    private sealed record Spec(Kind Kind, Timing Timing = Timing.None, Mode Mode = Mode.None)
    {
        public string KindLabel => Kind switch
        {
            Kind.Answered => "answered",
            Kind.GoneInGap => "gone-in-gap",
            Kind.Ended => "ended-in-grace",
            Kind.CalleeRinging => "callee-ringing",
            Kind.CallerRinging => "caller-ringing",
            Kind.Barged => "barged",
            _ => "barge-ringing",
        };

        public string Label => KindLabel + (Timing != Timing.None ? "/" + Timing.ToString().ToLowerInvariant() : "") + (Mode != Mode.None ? "/" + Mode.ToString().ToLowerInvariant() : "");
    }

    private sealed record Sent(string Type, string? Id, double At, bool Probe);

    /// <summary>A message seen on a call's channel, at the test's clock (seconds).</summary>
    private sealed record Seen(double At, string Raw, string Type, string? Side, string? Cause, string? Event, string? Id)
    {
        public static readonly HashSet<string> ServerTypes = ["call-start", "answer-event", "hangup-event", "ack", "failure"];
        public bool IsReply => Type is "ack" || (Type == "failure" && Event is not null);
        public bool IsEvent => Type is "call-start" or "answer-event" or "hangup-event" || (Type == "failure" && Event is null);

        public static Seen Parse(double at, string raw)
        {
            try
            {
                using var d = JsonDocument.Parse(raw);
                var r = d.RootElement;
                if (r.ValueKind != JsonValueKind.Object) return new Seen(at, raw, "?", null, null, null, null);
                string? S(string n) => r.TryGetProperty(n, out var v) ? v.ValueKind == JsonValueKind.String ? v.GetString() : v.GetRawText() : null;
                return new Seen(at, raw, S("type") ?? "?", S("side"), S("cause"), S("event"), S("id"));
            }
            catch (JsonException)
            {
                return new Seen(at, raw, "?", null, null, null, null);
            }
        }
    }

    private sealed class TestCall(Spec spec, int index, string dialId, string user, string[] numbers, string statsKey)
    {
        public Spec Spec { get; } = spec;
        public int Index { get; } = index;
        public string DialId { get; } = dialId;
        public string User { get; } = user;
        /// <summary>Phone number per side (0 caller, 1 callee, 2 barger): unique to this call.</summary>
        public string[] Numbers { get; } = numbers;
        public string StatsKey { get; } = statsKey;
        public double RingStartedAt { get; set; }
        public double RingSeconds => Spec.Timing switch { Timing.Soon => SoonSeconds, Timing.Late => LateSeconds, _ => 0 };
        public string?[] Uuids { get; } = new string?[3];
        public string?[] ExpectCause { get; } = new string?[3];
        public bool[] AnswerOptional { get; } = new bool[3];
        public readonly ConcurrentQueue<Sent> SentMessages = new();
    }

    private sealed record TakeoverResult(double? OwnerAfter, double? ReplyAfter, string? LastOwner);

    /// <summary>redis-server, simulator, observer and server processes of one test, with what they saw.</summary>
    private sealed partial class Rig : IAsyncDisposable
    {
        public const string Prefix = "to-";
        public const string Instances = "{redswitch}.instances";
        public static string Owned(string instance) => $"{{redswitch}}.owned.{instance}";
        public static string StateKey(string dialId) => $"redswitch.call.{{{dialId}}}";
        public static string ActiveKey(TestCall c) => $"redswitch.{c.DialId}.{Org}.{c.User}";
        public const string DeadList = $"{{{JobList}}}.dead";
        public static string Processing(string instance) => $"{{{JobList}}}.processing.{instance}";

        private static int _seq;
        public RedisServer Redis { get; private set; } = null!;
        public SimulatorHost Sim { get; private set; } = null!;
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        public double Now => _clock.Elapsed.TotalSeconds;

        private readonly ConcurrentQueue<string> _simLog = new();
        private readonly ConcurrentDictionary<string, List<Seen>> _seen = new();
        private ChannelMessageQueue? _sub;
        private readonly List<ServerProcess> _processes = [];
        private readonly List<string> _dumps = [];
        private readonly ConcurrentDictionary<ServerProcess, double> _readyAt = new();
        private readonly List<string> _problems = [];
        private readonly ConcurrentDictionary<string, TestCall> _taken = new();
        private readonly ConcurrentDictionary<string, byte> _requeued = new();
        private readonly CancellationTokenSource _stop = new();
        private Task? _sampler;

        public List<string> Problems { get { lock (_problems) return [.. _problems]; } }

        public void Check(bool ok, string problem)
        {
            if (!ok) lock (_problems) _problems.Add(problem);
        }

        public static async Task<Rig> StartAsync()
        {
            var rig = new Rig();
            try
            {
                rig.Redis = await RedisServer.StartAsync();
                rig.Sim = await SimulatorHost.StartAsync(new SimulatorOptions { Port = 0, HeartbeatInterval = null, Log = rig._simLog.Enqueue });
                // a queue, not a handler: handlers run concurrently, and the order of each channel's messages is under test
                rig._sub = await rig.Redis.Client.GetSubscriber().SubscribeAsync(RedisChannel.Pattern(Prefix + "*"));
                rig._sub.OnMessage(m =>
                {
                    var seen = Seen.Parse(rig.Now, (string?)m.Message ?? "");
                    var list = rig._seen.GetOrAdd(m.Channel.ToString(), _ => []);
                    lock (list) list.Add(seen);
                });
                rig._sampler = rig.SampleJobListAsync();
                return rig;
            }
            catch
            {
                await rig.DisposeAsync();
                throw;
            }
        }

        /// <summary>Between rounds: no process, no leg, an empty Redis, no behaviours.</summary>
        public async Task ResetAsync()
        {
            await StopProcessesAsync(keepDumpsOfFailures: true);
            await ForceHangupAllAsync();
            await Redis.FlushAsync();
            Sim.ClearBehaviours();
            _taken.Clear();
        }

        // ------------------------------------------------------------------ processes

        public async Task<ServerProcess> StartInstanceAsync(string tag, IReadOnlyDictionary<string, string>? extra = null) =>
            await StartNamedAsync($"{tag}{Interlocked.Increment(ref _seq)}", extra);

        /// <summary>An instance with this INSTANCE_ID (a restart keeps its name, as a StatefulSet's pod does).</summary>
        public async Task<ServerProcess> StartNamedAsync(string name, IReadOnlyDictionary<string, string>? extra = null) =>
            await StartProcessAsync(ServerProcess.InstanceEnvironment(Sim.Port, Redis.Port, name, Lease, extra: extra));

        public async Task<ServerProcess> StartProcessAsync(Dictionary<string, string> env)
        {
            var p = new ServerProcess(env);
            lock (_processes) _processes.Add(p);
            await p.WaitReadyAsync(40);
            _readyAt[p] = Now;
            return p;
        }

        /// <summary>When a peer may claim: a full lease after it was ready (SPEC §8.1: connected for a full lease).</summary>
        public double SettledAt(ServerProcess p) => _readyAt[p] + Lease + 0.2;

        public async Task StopProcessesAsync(bool keepDumpsOfFailures)
        {
            List<ServerProcess> all;
            lock (_processes)
            {
                all = [.. _processes];
                _processes.Clear();
            }
            foreach (var p in all)
            {
                if (keepDumpsOfFailures && Problems.Count > 0 && _dumps.Count < 6) _dumps.Add(p.Dump(120));
                await p.DisposeAsync();
            }
        }

        public string DumpProcesses()
        {
            List<ServerProcess> all;
            lock (_processes) all = [.. _processes];
            return string.Join("\n", _dumps.Concat(all.Select(p => p.Dump(150))));
        }

        public async Task<long> RedisTimeMsAsync()
        {
            var t = (RedisResult[])(await Redis.Db.ExecuteAsync("TIME"))!;
            return (long)t[0] * 1000 + (long)t[1] / 1000;
        }

        /// <summary>True once the instance's lease has been renewed <paramref name="times"/> times after <paramref name="since"/> and lies in the future.</summary>
        public async Task<bool> LeaseRenewedSinceAsync(string instance, double since, int times)
        {
            var key = instance + "@" + since.ToString(CultureInfo.InvariantCulture);
            var score = await Redis.Db.SortedSetScoreAsync(Instances, instance);
            if (score is null || score.Value <= await RedisTimeMsAsync()) return false;
            var list = _renewals.GetOrAdd(key, _ => []);
            lock (list)
            {
                if (list.Count == 0 || list[^1] != score.Value) list.Add(score.Value);
                return list.Count > times;
            }
        }

        private readonly ConcurrentDictionary<string, List<double>> _renewals = new();

        // ------------------------------------------------------------------ calls and jobs

        public TestCall NewCall(Spec spec, string scenario)
        {
            var n = Interlocked.Increment(ref _seq);
            var numbers = Enumerable.Range(0, 3).Select(side => $"{side + 2}1{n:D6}100").ToArray();
            var c = new TestCall(spec, n, $"{Prefix}{n}-{Guid.NewGuid():N}"[..24], $"u{n}", numbers, scenario + spec.KindLabel);
            TimeSpan S(double s) => TimeSpan.FromSeconds(s);
            var ring = spec.Timing switch
            {
                Timing.Soon => PhoneBehaviour.AnswerAfterDelay(S(SoonSeconds)),
                Timing.Late => PhoneBehaviour.AnswerAfterDelay(S(LateSeconds)),
                _ => PhoneBehaviour.NoAnswer(null), // rings until the ring timeout (45 s): hung up by the test before
            };
            switch (spec.Kind)
            {
                case Kind.Ended:
                    Sim.SetBehaviour(numbers[1], PhoneBehaviour.AnswerThenHangup(S(0.5)));
                    break;
                case Kind.CalleeRinging:
                    Sim.SetBehaviour(numbers[1], ring);
                    if (spec.Timing == Timing.Never) c.ExpectCause[1] = "ORIGINATOR_CANCEL";
                    break;
                case Kind.CallerRinging:
                    Sim.SetBehaviour(numbers[0], ring);
                    if (spec.Timing == Timing.Never) c.ExpectCause[0] = "ORIGINATOR_CANCEL";
                    // whether the new owner can still tell that the caller answered before its socket failed is open (SPEC §8.1)
                    c.AnswerOptional[0] = true;
                    break;
                case Kind.BargeRinging:
                    Sim.SetBehaviour(numbers[2], ring);
                    c.ExpectCause[0] = c.ExpectCause[1] = "NORMAL_CLEARING";
                    c.ExpectCause[2] = spec.Timing == Timing.Never ? "ORIGINATOR_CANCEL" : "NORMAL_CLEARING";
                    break;
                case Kind.Answered:
                    c.ExpectCause[0] = c.ExpectCause[1] = "NORMAL_CLEARING";
                    break;
                case Kind.GoneInGap:
                    // gone while nobody owned the call: FreeSWITCH no longer knows the cause (SPEC §8.1 Resume)
                    c.ExpectCause[0] = c.ExpectCause[1] = "NORMAL_UNSPECIFIED";
                    break;
                case Kind.Barged:
                    c.ExpectCause[0] = c.ExpectCause[1] = c.ExpectCause[2] = "NORMAL_CLEARING";
                    break;
            }
            return c;
        }

        /// <summary>Pushes the jobs in one RPUSH (FIFO) and waits until every one has its call-start.</summary>
        public async Task PushAndWaitStartedAsync(IReadOnlyList<TestCall> calls)
        {
            var jobs = calls.Select(c => (RedisValue)Call(c.DialId, caller: c.Numbers[0], callee: c.Numbers[1], user: c.User)).ToArray();
            await Redis.Db.ListRightPushAsync(JobList, jobs);
            if (!await TryWaitAsync(() => calls.All(c => Count(c, "call-start") >= 1), 15))
                Assert.Fail("no call-start within 15 s for " + string.Join(", ", calls.Where(c => Count(c, "call-start") == 0).Select(c => $"{c.DialId}: {Trace(c)}")));
            foreach (var c in calls) _taken[c.DialId] = c;
        }

        /// <summary>Watches the job list all along: a job that was taken must never be in it again.</summary>
        private async Task SampleJobListAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    if (!_taken.IsEmpty)
                    {
                        var jobs = await Redis.Db.ListRangeAsync(JobList);
                        foreach (var j in jobs)
                        {
                            var s = (string?)j ?? "";
                            foreach (var d in _taken.Keys)
                                if (s.Contains($"\"dial_id\": \"{d}\"", StringComparison.Ordinal)) _requeued[d] = 0;
                        }
                    }
                    await Task.Delay(100, _stop.Token);
                }
                catch (OperationCanceledException) { return; }
                catch (RedisException) { /* between rounds */ }
                catch (ObjectDisposedException) { return; }
            }
        }

        public async Task<Dictionary<string, string>> HashAsync(string dialId) =>
            (await Redis.Db.HashGetAllAsync(StateKey(dialId))).ToDictionary(e => (string)e.Name!, e => (string)e.Value!);

        /// <summary>Before the kill: every call's state hash names its owner at epoch 1, and the owner's index set holds it. Returns the epochs.</summary>
        public async Task<Dictionary<TestCall, long>> CheckOwnedAsync(IReadOnlyList<TestCall> calls, string owner, string round)
        {
            var epochs = new Dictionary<TestCall, long>();
            foreach (var c in calls)
            {
                var h = await HashAsync(c.DialId);
                var who = $"{round}{c.DialId} [{c.Spec.Label}]";
                Check(h.GetValueOrDefault("owner") == owner,
                    $"{who}: before the kill, {StateKey(c.DialId)} has owner={h.GetValueOrDefault("owner") ?? "<none>"}, expected {owner} (fields: {string.Join(", ", h.Keys.Order())})");
                Check(h.GetValueOrDefault("epoch") == "1", $"{who}: before the kill, epoch={h.GetValueOrDefault("epoch") ?? "<none>"}, expected 1");
                Check(await Redis.Db.SetContainsAsync(Owned(owner), c.DialId), $"{who}: before the kill, not in {Owned(owner)}");
                epochs[c] = long.TryParse(h.GetValueOrDefault("epoch"), out var e) ? e : 1;
            }
            return epochs;
        }

        /// <summary>After the claim: owner is a claimer, epoch went up by one, the dial_id moved to the claimer's index set.</summary>
        public async Task CheckClaimedAsync(IReadOnlyList<TestCall> calls, IReadOnlyDictionary<TestCall, long> epochs, string victim,
            IReadOnlySet<string> claimers, string round)
        {
            foreach (var c in calls)
            {
                var who = $"{round}{c.DialId} [{c.Spec.Label}]";
                var h = await HashAsync(c.DialId);
                var owner = h.GetValueOrDefault("owner");
                if (owner is null || !claimers.Contains(owner)) continue; // reported as not claimed
                var expected = epochs.GetValueOrDefault(c, 1) + 1;
                Check(h.GetValueOrDefault("epoch") == expected.ToString(CultureInfo.InvariantCulture), $"{who}: epoch {h.GetValueOrDefault("epoch") ?? "<none>"} after the claim, expected {expected}");
                Check(await Redis.Db.SetContainsAsync(Owned(owner), c.DialId), $"{who}: claimed by {owner} but not in {Owned(owner)}");
                if (!claimers.Contains(victim))
                    Check(!await Redis.Db.SetContainsAsync(Owned(victim), c.DialId), $"{who}: still in {Owned(victim)} after the claim");
                foreach (var other in claimers.Where(o => o != owner))
                    Check(!await Redis.Db.SetContainsAsync(Owned(other), c.DialId), $"{who}: in {Owned(other)} too");
            }
        }

        /// <summary>
        /// For every call, from <paramref name="t0"/>: polls the hash until a claimer owns it, then sends a control message
        /// (unknown type: answered with a failure, changes nothing) every 0.25 s until one is answered.
        /// </summary>
        public async Task<Dictionary<TestCall, TakeoverResult>> MeasureTakeoverAsync(IReadOnlyList<TestCall> calls, double t0, IReadOnlySet<string> claimers, double giveUpAfter)
        {
            var results = new ConcurrentDictionary<TestCall, TakeoverResult>();
            await Task.WhenAll(calls.Select(async c =>
            {
                double? ownerAt = null;
                string? owner = null;
                for (var i = 0; i < 10_000 && Now < t0 + giveUpAfter; i++)
                {
                    owner = (string?)await Redis.Db.HashGetAsync(StateKey(c.DialId), "owner");
                    if (owner is not null && claimers.Contains(owner))
                    {
                        ownerAt = Now;
                        break;
                    }
                    await Task.Delay(25);
                }
                if (ownerAt is null)
                {
                    results[c] = new TakeoverResult(null, null, owner);
                    return;
                }
                double? replyAt = null;
                for (var attempt = 0; attempt < 100 && Now < t0 + giveUpAfter + 2; attempt++)
                {
                    var id = await SendControlAsync(c, ProbeType, probe: true);
                    if (await WaitReplyAsync(c, id, 0.25) is { } reply)
                    {
                        replyAt = reply.At;
                        break;
                    }
                }
                results[c] = new TakeoverResult(ownerAt - t0, replyAt - t0, owner);
            }));
            return new Dictionary<TestCall, TakeoverResult>(results);
        }

        // ------------------------------------------------------------------ messages

        private List<Seen> All(TestCall c)
        {
            if (!_seen.TryGetValue(c.DialId, out var list)) return [];
            lock (list) return [.. list];
        }

        /// <summary>What the server published on the call's channel (events and replies), in order.</summary>
        public List<Seen> Events(TestCall c) => All(c).Where(m => Seen.ServerTypes.Contains(m.Type)).ToList();

        public List<Seen> Replies(TestCall c) => Events(c).Where(m => m.IsReply).ToList();

        public int Count(TestCall c, string type, string? side = null) => Events(c).Count(m => m.Type == type && (side is null || m.Side == side));

        public string Trace(TestCall c) => string.Join(" | ", All(c).Select(m => $"{m.At:F2} {m.Raw}"));

        public int TotalMessages(IEnumerable<TestCall> calls) => calls.Sum(c => Events(c).Count);

        public List<string> MessagesSince(IEnumerable<TestCall> calls, int before)
        {
            var all = calls.SelectMany(c => Events(c).Select(m => (c, m))).OrderBy(x => x.m.At).ToList();
            return all.Count <= before ? [] : all.Skip(before).Select(x => $"{x.c.DialId}: {x.m.At:F2} {x.m.Raw}").ToList();
        }

        public double LastEventAt(IEnumerable<TestCall> calls) => calls.SelectMany(Events).Where(m => m.IsEvent).Select(m => m.At).DefaultIfEmpty(Now).Max();

        public string? LastId(TestCall c) => c.SentMessages.LastOrDefault(s => s.Id is not null)?.Id;

        public async Task<Seen> WaitEventAsync(TestCall c, string type, string? side, double seconds)
        {
            Seen? found = null;
            await Waits.UntilAsync(() => (found = Events(c).FirstOrDefault(m => m.Type == type && (side is null || m.Side == side))) is not null, seconds,
                $"{type}{(side is null ? "" : " side " + side)} on {c.DialId} [{c.Spec.Label}]; so far: {Trace(c)}");
            return found!;
        }

        public async Task<string> SendControlAsync(TestCall c, string type, bool probe = false, string? extra = null, bool withoutId = false)
        {
            var id = withoutId ? null : $"{type}-{c.Index}-{c.SentMessages.Count + 1}";
            var json = id is null ? $"{{\"type\": \"{type}\"{extra}}}" : $"{{\"type\": \"{type}\"{extra}, \"id\": \"{id}\"}}";
            c.SentMessages.Enqueue(new Sent(type, id, Now, probe));
            await Redis.Db.PublishAsync(RedisChannel.Literal(c.DialId), json);
            return id ?? "";
        }

        public async Task<Seen?> WaitReplyAsync(TestCall c, string id, double seconds)
        {
            Seen? found = null;
            await TryWaitAsync(() => (found = Replies(c).FirstOrDefault(m => m.Id == id)) is not null, seconds);
            return found;
        }

        /// <summary>Sends a control message and returns its reply (by id; without an id, the next reply to that type), or null.</summary>
        public async Task<Seen?> SendAndWaitReplyAsync(TestCall c, string type, bool withoutId, double seconds, string? extra = null)
        {
            if (!withoutId) return await WaitReplyAsync(c, await SendControlAsync(c, type, extra: extra), seconds);
            bool Mine(Seen m) => m.Id is null && m.Event == type;
            var before = Replies(c).Count(Mine);
            await SendControlAsync(c, type, extra: extra, withoutId: true);
            Seen? found = null;
            await TryWaitAsync(() => (found = Replies(c).Where(Mine).Skip(before).FirstOrDefault()) is not null, seconds);
            return found;
        }

        public async Task<bool> TryWaitAsync(Func<bool> condition, double seconds) => await TryWaitAsync(() => Task.FromResult(condition()), seconds);

        public async Task<bool> TryWaitAsync(Func<Task<bool>> condition, double seconds)
        {
            var until = Now + Math.Max(0, seconds);
            for (var i = 0; i < 100_000; i++)
            {
                if (await condition()) return true;
                if (Now > until) return false;
                await Task.Delay(20);
            }
            return false;
        }

        /// <summary>A scenario time point (the test's schedule), not a wait for a condition.</summary>
        public async Task UntilTimeAsync(double t)
        {
            if (Now >= t) return;
            await Task.Delay(TimeSpan.FromSeconds(t - Now));
        }

        /// <summary>Waits until no message has arrived on any test channel for half a second (at most 3 s).</summary>
        public async Task SettleAsync()
        {
            double Last() => _seen.Values.Select(l => { lock (l) return l.Count == 0 ? 0 : l[^1].At; }).DefaultIfEmpty(0).Max();
            await TryWaitAsync(() => Now - Last() >= 0.5, 3);
        }

        // ------------------------------------------------------------------ the simulator

        public async Task<List<(string Uuid, string Dial, int Side)>> LegsAsync()
        {
            var legs = new List<(string, string, int)>();
            foreach (var uuid in await Sim.GetChannelUuidsAsync())
            {
                var dial = await Sim.GetVariableAsync(uuid, "dial_id");
                var side = await Sim.GetVariableAsync(uuid, "call-side");
                if (dial is not null && int.TryParse(side, out var s)) legs.Add((uuid, dial, s));
            }
            return legs;
        }

        public async Task FindUuidsAsync(TestCall c)
        {
            foreach (var (uuid, dial, side) in await LegsAsync())
                if (dial == c.DialId && side is >= 0 and <= 2) c.Uuids[side] = uuid;
        }

        public async Task<string?> WaitModeAsync(TestCall c, string expected)
        {
            string? mode = null;
            if (c.Uuids[2] is null) await FindUuidsAsync(c);
            if (c.Uuids[2] is not { } uuid) return null;
            await TryWaitAsync(async () => (mode = await Sim.GetEavesdropModeAsync(uuid)) == expected, 3);
            return mode;
        }

        [GeneratedRegex(@"number=(?<n>\S+) answered=(?<a>yes|no) cause=(?<c>\S+)")]
        private static partial Regex SimLogLine();

        /// <summary>Per dialled number: how many legs ended, and whether one of them answered (from the simulator's per-leg log).</summary>
        private Dictionary<string, (int Legs, bool Answered)> EndedLegs()
        {
            var d = new Dictionary<string, (int, bool)>();
            foreach (var line in _simLog)
            {
                var m = SimLogLine().Match(line);
                if (!m.Success) continue;
                var n = m.Groups["n"].Value;
                var (legs, answered) = d.GetValueOrDefault(n);
                d[n] = (legs + 1, answered || m.Groups["a"].Value == "yes");
            }
            return d;
        }

        public bool LegEnded(string number) => EndedLegs().ContainsKey(number);

        public async Task ForceHangupAllAsync()
        {
            foreach (var uuid in await Sim.GetChannelUuidsAsync()) await Sim.HangupAsync(uuid);
            await TryWaitAsync(() => Sim.LiveChannels == 0, 10);
        }

        /// <summary>
        /// The FreeSWITCH node restarts: the simulator stops (its channels vanish without an event, as in a crash) and a
        /// new one — a new Core-UUID, no channels — listens on the same port. Fails the test when the port cannot be
        /// bound again within <paramref name="seconds"/>.
        /// </summary>
        public async Task RestartSimulatorAsync(double seconds = 5)
        {
            var port = Sim.Port;
            await Sim.StopAsync();
            var until = Now + seconds;
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    Sim = await SimulatorHost.StartAsync(new SimulatorOptions { Port = port, HeartbeatInterval = null, Log = _simLog.Enqueue });
                    return;
                }
                catch (Exception e)
                {
                    if (Now > until || attempt >= 100)
                        Assert.Fail($"a new simulator could not bind port {port} again ({attempt} attempt(s) in {seconds} s): {e.GetBaseException().Message}");
                }
                await Task.Delay(50);
            }
        }

        // ------------------------------------------------------------------ the end of a round

        /// <summary>Every leg gone (else recorded and cleaned up), every dialled side's hangup-event in, the channels quiet.</summary>
        public async Task FinishAsync(IReadOnlyList<TestCall> calls, string round)
        {
            if (!await TryWaitAsync(() => Sim.LiveChannels == 0, 15))
            {
                var legs = await LegsAsync();
                Check(false, $"{round}{Sim.LiveChannels} simulated leg(s) still up after every call was hung up: {string.Join(", ", legs.Select(l => $"{l.Dial}/side {l.Side}"))}");
                await ForceHangupAllAsync();
            }
            await TryWaitAsync(() =>
            {
                var ended = EndedLegs();
                return calls.All(c => Enumerable.Range(0, 3).All(s => !ended.ContainsKey(c.Numbers[s]) || Count(c, "hangup-event", s.ToString(CultureInfo.InvariantCulture)) >= 1));
            }, 5);
            await SettleAsync();
        }

        /// <summary>Checks every call and adds it up into the stats: sides ended once / missing / twice, replies, jobs lost or dialled twice.</summary>
        public async Task LedgerAsync(IReadOnlyList<TestCall> calls, IDictionary<string, Stats> stats, string? victim, string round, bool countRun)
        {
            var ended = EndedLegs();
            var dead = (await Redis.Db.ListRangeAsync(DeadList)).Select(v => (string?)v ?? "").ToList();
            var jobs = (await Redis.Db.ListRangeAsync(JobList)).Select(v => (string?)v ?? "").ToList();
            var processing = victim is null ? [] : (await Redis.Db.ListRangeAsync(Processing(victim))).Select(v => (string?)v ?? "").ToList();
            if (countRun)
                foreach (var key in calls.Select(c => c.StatsKey).Distinct())
                    Stat(stats, key).Runs++;
            foreach (var c in calls)
            {
                var st = Stat(stats, c.StatsKey);
                st.Calls++;
                var p = new List<string>();
                var msgs = Events(c);
                var events = msgs.Where(m => m.IsEvent).ToList();
                var starts = events.Count(m => m.Type == "call-start");
                if (starts == 0) { st.JobsLost++; p.Add("no call-start"); }
                if (events.Count > 0 && events[0].Type != "call-start") p.Add("the first event is not call-start");
                var twice = starts > 1;
                if (starts > 1) p.Add($"{starts} call-starts");
                for (var side = 0; side < 3; side++)
                {
                    var s = side.ToString(CultureInfo.InvariantCulture);
                    var (legs, answered) = ended.GetValueOrDefault(c.Numbers[side]);
                    var hangups = events.Where(m => m.Type == "hangup-event" && m.Side == s).ToList();
                    var answers = events.Where(m => m.Type == "answer-event" && m.Side == s).ToList();
                    if (legs > 1) { twice = true; p.Add($"side {s} dialled {legs} times"); }
                    if (legs > 0)
                    {
                        if (hangups.Count == 1) st.Once++;
                        else if (hangups.Count == 0) { st.Missing++; p.Add($"side {s}: no hangup-event"); }
                        else { st.Duplicated++; p.Add($"side {s}: {hangups.Count} hangup-events"); }
                        if (answered && answers.Count == 0 && !c.AnswerOptional[side]) p.Add($"side {s} answered but has no answer-event");
                        if (!answered && answers.Count > 0) p.Add($"side {s} never answered but has an answer-event");
                        if (c.ExpectCause[side] is { } cause && hangups.Count == 1 && hangups[0].Cause != cause) p.Add($"side {s}: cause {hangups[0].Cause}, expected {cause}");
                    }
                    else if (hangups.Count + answers.Count > 0) p.Add($"side {s} was never dialled but has events");
                    if (answers.Count > 1) p.Add($"side {s}: {answers.Count} answer-events");
                    if (answers.Count > 0 && hangups.Count > 0 && events.IndexOf(answers[0]) > events.IndexOf(hangups[0])) p.Add($"side {s}: answer-event after its hangup-event");
                }
                foreach (var g in events.GroupBy(m => m.Raw).Where(g => g.Count() > 1)) p.Add($"published {g.Count()} times: {g.Key}");

                // replies: one per message (a probe sent in the gap may get none, never two)
                var replies = msgs.Where(m => m.IsReply).ToList();
                var sent = c.SentMessages.ToList();
                foreach (var s in sent.Where(s => s.Id is not null))
                {
                    var n = replies.Count(r => r.Id == s.Id);
                    if (n > 1 || (n == 0 && !s.Probe)) p.Add($"{n} replies to {s.Type} id {s.Id}");
                }
                foreach (var r in replies.Where(r => r.Id is not null && sent.All(s => s.Id != r.Id))) p.Add($"a reply to a message never sent: {r.Raw}");
                foreach (var g in sent.Where(s => s.Id is null).GroupBy(s => s.Type))
                {
                    var n = replies.Count(r => r.Id is null && r.Event == g.Key);
                    if (n != g.Count()) p.Add($"{n} replies without id to {g.Count()} {g.Key} message(s) without id");
                }

                var tag = $"\"dial_id\": \"{c.DialId}\"";
                if (dead.Any(j => j.Contains(c.DialId, StringComparison.Ordinal))) { st.JobsLost++; p.Add("dead-lettered"); }
                if (processing.Any(j => j.Contains(tag, StringComparison.Ordinal))) { st.JobsLost++; p.Add($"still in {Processing(victim!)}"); }
                if (_requeued.ContainsKey(c.DialId) || jobs.Any(j => j.Contains(tag, StringComparison.Ordinal))) { twice = true; p.Add("back in the job list"); }
                if (twice) st.DialledTwice++;
                if (await Redis.Db.KeyExistsAsync(ActiveKey(c))) p.Add($"active list left: {string.Join(",", (await Redis.Db.ListRangeAsync(ActiveKey(c))).Select(v => (string?)v))}");

                if (p.Count > 0) Check(false, $"{round}{c.DialId} [{c.Spec.Label}]: {string.Join("; ", p)}\n    trace: {Trace(c)}");
            }
        }

        private static Stats Stat(IDictionary<string, Stats> stats, string key)
        {
            if (!stats.TryGetValue(key, out var s)) stats[key] = s = new Stats();
            return s;
        }

        /// <summary>What is left of the calls in Redis: state hashes, index entries, active lists.</summary>
        public async Task<List<string>> LeftoversAsync(IReadOnlyList<TestCall> calls)
        {
            var left = new List<string>();
            foreach (var c in calls)
            {
                if (await Redis.Db.KeyExistsAsync(StateKey(c.DialId))) left.Add(StateKey(c.DialId));
                if (await Redis.Db.KeyExistsAsync(ActiveKey(c))) left.Add(ActiveKey(c));
            }
            var server = Redis.Client.GetServer("127.0.0.1", Redis.Port);
            await foreach (var key in server.KeysAsync(pattern: "{redswitch}.owned.*"))
                foreach (var member in await Redis.Db.SetMembersAsync(key))
                    left.Add($"{key} ∋ {member}");
            return left;
        }

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            await StopProcessesAsync(keepDumpsOfFailures: false);
            if (_sampler is not null) await _sampler;
            if (_sub is not null) await _sub.UnsubscribeAsync();
            if (Sim is not null) await Sim.DisposeAsync();
            if (Redis is not null) await Redis.DisposeAsync();
        }
    }
}
