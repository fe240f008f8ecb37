using System.Collections.Concurrent;
using System.Globalization;
using System.Text.RegularExpressions;
using Redswitch.Simulator;
using Redswitch.Tests.Infrastructure;
using StackExchange.Redis;
using static Redswitch.Tests.Server.Jobs;

namespace Redswitch.Tests.Server;

/// <summary>
/// The hand-off drain (SPEC §8 "Graceful stop", §8.1 "Release"): a SIGTERM'd instance releases its bridged calls and a live
/// peer claims them at once; nothing is hung up. Same rig as the kill tests: real server processes, redis-server, the
/// in-process simulator. Hand-off time per call = release to claim by Redis's clock, as the claimer logs it.
/// </summary>
public partial class TakeoverTests
{
    private const int DrainTimeout = 20;

    private static readonly Dictionary<string, string> Handoff = new() { ["DRAIN_MODE"] = "handoff", ["DRAIN_TIMEOUT"] = $"{DrainTimeout}" };

    [GeneratedRegex(@"took over the call from (?<from>\S+) at epoch \d+ \(.*released (?<ms>\d+) ms before\)")]
    private static partial Regex HandoffLogLine();

    /// <summary>The hand-off times (ms) the claimer <paramref name="p"/> logged, by dial_id.</summary>
    private static Dictionary<string, long> HandoffTimes(ServerProcess p)
    {
        var times = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in p.Out)
        {
            var m = HandoffLogLine().Match(line);
            if (!m.Success) continue;
            var dial = Regex.Match(line, @"dial_id[=:]\s*""?(?<d>[A-Za-z0-9_:-]+)");
            times[dial.Success ? dial.Groups["d"].Value : line] = long.Parse(m.Groups["ms"].Value, CultureInfo.InvariantCulture);
        }
        return times;
    }

    private static string MinMedianMax(IReadOnlyCollection<double> values, string format = "F1")
    {
        if (values.Count == 0) return "-";
        var v = values.Order().ToList();
        var median = v.Count % 2 == 1 ? v[v.Count / 2] : (v[v.Count / 2 - 1] + v[v.Count / 2]) / 2;
        return $"min={v[0].ToString(format, CultureInfo.InvariantCulture)} median={median.ToString(format, CultureInfo.InvariantCulture)} max={v[^1].ToString(format, CultureInfo.InvariantCulture)}";
    }

    /// <summary>Polls until the state hash of every call names <paramref name="owner"/>; false when <paramref name="seconds"/> passed first.</summary>
    private async Task<bool> AllOwnedByAsync(IReadOnlyList<TestCall> calls, string owner, double seconds) =>
        await _rig.TryWaitAsync(async () =>
        {
            foreach (var c in calls)
                if ((string?)await _rig.Redis.Db.HashGetAsync(Rig.StateKey(c.DialId), "owner") != owner) return false;
            return true;
        }, seconds);

    /// <summary>Instance A takes every call and brings it to its state, then peer B starts (both in hand-off mode); A owns each call at epoch 1.</summary>
    private async Task<(ServerProcess A, ServerProcess B, List<TestCall> Calls, Dictionary<TestCall, long> Epochs)> OwnerWithCallsAndPeerAsync(
        IReadOnlyList<Spec> specs, string scenario)
    {
        var rig = _rig;
        var a = await rig.StartInstanceAsync("A", Handoff);
        var calls = specs.Select(s => rig.NewCall(s, scenario)).ToList();
        await rig.PushAndWaitStartedAsync(calls);
        var peerTask = rig.StartInstanceAsync("B", Handoff);
        await Task.WhenAll(calls.Select(PreKillAsync));
        var b = await peerTask;
        var epochs = await rig.CheckOwnedAsync(calls, a.Name, "");
        foreach (var key in calls.Select(c => c.StatsKey).Distinct()) Stat(key).Runs++;
        return (a, b, calls, epochs);
    }

    [Test]
    [Category("handoff")]
    public async Task Handoff_SigtermWithALivePeer_ThirtyCallsTenBargedInWhisper_PeerTakesEveryCallAndNoLegIsHungUp()
    {
        var rig = _rig;
        var specs = Enumerable.Repeat(new Spec(Kind.Answered), 20).Concat(Enumerable.Repeat(new Spec(Kind.Barged, Mode: Mode.Whisper), 10)).ToList();
        await RunAndAssertAsync("handoff", async () =>
        {
            var (a, b, calls, epochs) = await OwnerWithCallsAndPeerAsync(specs, "handoff:");
            var legs = calls.SelectMany(c => c.Uuids.Select((u, side) => (c, u, side)).Where(l => l.u is not null)).ToList();
            Assert.That(legs, Has.Count.EqualTo(20 * 2 + 10 * 3), "every leg found on the simulator before the stop");

            var t0 = rig.Now;
            a.Terminate();
            var code = await a.ExitAsync(DrainTimeout + 15);
            var exitedAfter = rig.Now - t0;
            rig.Check(code == 0, $"{a.Name} exited with {code} after SIGTERM");
            rig.Check(exitedAfter <= DrainTimeout, $"{a.Name} exited {exitedAfter:F2} s after SIGTERM, DRAIN_TIMEOUT is {DrainTimeout} s");
            // nothing hung up: right after the owner exited every leg is still there
            var down = new List<string>();
            foreach (var (c, uuid, side) in legs)
                if (!await rig.Sim.ChannelExistsAsync(uuid!)) down.Add($"{c.DialId} side {side}");
            rig.Check(down.Count == 0, $"{down.Count} leg(s) gone right after {a.Name} exited: {string.Join(", ", down)}");
            rig.Check(!a.Out.Any(l => l.Contains("MANAGER_REQUEST")), $"{a.Name} hung something up: {string.Join(" | ", a.Out.Where(l => l.Contains("MANAGER_REQUEST")))}");

            // each call was claimed by the peer (epoch 2, moved between the index sets) — at once, not after a lease
            var owned = await AllOwnedByAsync(calls, b.Name, 5);
            rig.Check(owned, "not every call is owned by the peer 5 s after the owner exited");
            await rig.CheckClaimedAsync(calls, epochs, a.Name, new HashSet<string> { b.Name }, "");
            var times = HandoffTimes(b);
            foreach (var c in calls)
            {
                if (times.TryGetValue(c.DialId, out var ms)) Stat(c).Takeover.Add(ms / 1000.0);
                else
                {
                    Stat(c).NotTakenOver++;
                    rig.Check(false, $"{c.DialId} [{c.Spec.Label}]: {b.Name} logged no hand-off of the call");
                }
            }
            var released = a.Out.Count(l => l.Contains("handed off 30 call(s)"));
            rig.Check(released == 1, $"{a.Name} did not log that it handed off its 30 calls");

            // the peer obeys: barged calls keep their whisper (threeway then unthreeway: digits 3 then 2), hangup acked once
            await Task.WhenAll(calls.Select(c => PostTakeoverAsync(c, "")));
            await HangupAllAsync(calls, "", withoutId: null);
            await rig.FinishAsync(calls, "");
            await rig.LedgerAsync(calls, _stats, a.Name, "", countRun: false);
            TestContext.Out.WriteLine($"handoff summary: calls={calls.Count} legs={legs.Count} legs hung up by the drain={down.Count}"
                                      + $" owner exited {exitedAfter:F2} s after SIGTERM; hand-off ms {MinMedianMax(times.Values.Select(v => (double)v).ToList(), "F0")}");
            return times.Count;
        });
    }

    [Test]
    [Category("handoff")]
    public async Task Handoff_PeerFrozenThroughTheDrain_ReleasedCallsStayReleasedAndThePeerClaimsThemOnceBack()
    {
        var rig = _rig;
        var specs = Enumerable.Repeat(new Spec(Kind.Answered), 4).Append(new Spec(Kind.Barged, Mode: Mode.Whisper)).ToList();
        await RunAndAssertAsync("handoff-unclaimed", async () =>
        {
            var (a, b, calls, epochs) = await OwnerWithCallsAndPeerAsync(specs, "handoff-unclaimed:");

            // the peer freezes just before the stop: still live by its lease, so the owner hands off, but nobody claims
            b.Pause();
            var t0 = rig.Now;
            a.Terminate();
            var code = await a.ExitAsync(DrainTimeout + 15);
            rig.Check(code == 0, $"{a.Name} exited with {code}");
            foreach (var c in calls)
            {
                var h = await rig.HashAsync(c.DialId);
                rig.Check(h.GetValueOrDefault("owner") == "released", $"{c.DialId} [{c.Spec.Label}]: owner {h.GetValueOrDefault("owner") ?? "<none>"} after the owner exited, expected released");
                foreach (var side in c.Spec.Kind == Kind.Barged ? new[] { 0, 1, 2 } : new[] { 0, 1 })
                    rig.Check(await rig.Sim.ChannelExistsAsync(c.Uuids[side]!), $"{c.DialId} [{c.Spec.Label}]: side {side} hung up by the drain");
            }
            var score = await rig.Redis.Db.SortedSetScoreAsync(Rig.Instances, a.Name);
            rig.Check(score == 0, $"{a.Name} left with released calls in its index set: its lease should have ended now (score 0), score is {score?.ToString() ?? "<none>"}");

            // frozen past its own lease: on waking it trusts nothing it buffered (the hand-off notices included) ...
            await rig.UntilTimeAsync(rig.Now + Lease);
            b.Resume();
            var claimed = await AllOwnedByAsync(calls, b.Name, 3 * Lease + 5);
            rig.Check(claimed, $"the released calls are not all owned by {b.Name} {3 * Lease + 5} s after it was resumed");
            // ... then claims them: from the lapsed owner's index set, or from the notices it buffered once its own lease
            // is held again (a released call is nobody's: either way is right)
            var path = b.Out.Any(l => l.Contains($"instance {a.Name} lapsed: took over")) ? "as a lapsed instance's calls" : "from the hand-off notices";
            var after = rig.Now - t0;
            foreach (var c in calls) Stat(c).Takeover.Add(after);
            await rig.CheckClaimedAsync(calls, epochs, a.Name, new HashSet<string> { b.Name }, "");
            rig.Check(await rig.TryWaitAsync(async () => await rig.Redis.Db.SortedSetScoreAsync(Rig.Instances, a.Name) is null, 5),
                $"{a.Name} still in {Rig.Instances} once its calls were claimed");
            await Task.WhenAll(calls.Select(c => PostTakeoverAsync(c, "")));
            await HangupAllAsync(calls, "", withoutId: null);
            await rig.FinishAsync(calls, "");
            await rig.LedgerAsync(calls, _stats, a.Name, "", countRun: false);
            TestContext.Out.WriteLine($"handoff summary: peer frozen through the drain and for a lease after; claimed {after:F2} s after the SIGTERM ({path})");
            return claimed ? calls.Count : 0;
        });
    }

    [Test]
    [Category("handoff")]
    public async Task Handoff_ThePeerDiesDuringTheDrain_TheCallStillRingingStaysAndIsHungUpAtTheTimeout()
    {
        var rig = _rig;
        const int drainTimeout = 12;
        var env = new Dictionary<string, string> { ["DRAIN_MODE"] = "handoff", ["DRAIN_TIMEOUT"] = $"{drainTimeout}" };
        await RunAndAssertAsync("handoff-peer-died", async () =>
        {
            var a = await rig.StartInstanceAsync("A", env);
            var answered = rig.NewCall(new Spec(Kind.Answered), "handoff-peer-died:");
            var ringing = rig.NewCall(new Spec(Kind.CalleeRinging, Timing.Soon), "handoff-peer-died:");
            rig.Sim.SetBehaviour(ringing.Numbers[1], PhoneBehaviour.NoAnswer(null));
            ringing.ExpectCause[0] = ringing.ExpectCause[1] = "MANAGER_REQUEST";
            await rig.PushAndWaitStartedAsync([answered, ringing]);
            await PreKillAsync(answered);
            await rig.WaitEventAsync(ringing, "answer-event", "0", 10);
            var b = await rig.StartInstanceAsync("B", env);
            Stat(ringing).Runs++;

            var t0 = rig.Now;
            a.Terminate();
            var handedOff = await rig.TryWaitAsync(async () => (string?)await rig.Redis.Db.HashGetAsync(Rig.StateKey(answered.DialId), "owner") == b.Name, 5);
            rig.Check(handedOff, $"the answered call was not handed to {b.Name}");
            await b.Kill9Async();
            // the callee answers after the peer's lease has lapsed: the drain, with no peer left, keeps the call
            rig.Check(await rig.TryWaitAsync(() => a.Out.Any(l => l.Contains("no live peer any more")), Lease + 3),
                $"{a.Name} did not notice within {Lease + 3} s that its only peer's lease lapsed");
            await rig.FindUuidsAsync(ringing);
            Assert.That(ringing.Uuids[1] is { } callee && await rig.Sim.PickUpAsync(callee), Is.True, "the callee picks up");
            await rig.WaitEventAsync(ringing, "answer-event", "1", 10);
            var code = await a.ExitAsync(drainTimeout + 20);
            var exitedAfter = rig.Now - t0;
            rig.Check(code == 0, $"{a.Name} exited with {code}");
            rig.Check(exitedAfter >= drainTimeout, $"{a.Name} exited {exitedAfter:F2} s after SIGTERM, before DRAIN_TIMEOUT ({drainTimeout} s) with a live call");
            var owner = (string?)await rig.Redis.Db.HashGetAsync(Rig.StateKey(ringing.DialId), "owner");
            rig.Check(owner is null || owner == a.Name, $"{ringing.DialId}: owner {owner} — released with no peer to claim it");
            rig.Check(await rig.TryWaitAsync(() => rig.Count(ringing, "hangup-event") == 2, 5), $"{ringing.DialId}: not every side ended: {rig.Trace(ringing)}");
            // (the call handed to the dead peer is nobody's until an instance claims it: not this test's subject)
            await rig.FindUuidsAsync(answered);
            foreach (var uuid in answered.Uuids) if (uuid is not null) await rig.Sim.HangupAsync(uuid);
            await rig.FinishAsync([ringing], "");
            await rig.LedgerAsync([ringing], _stats, a.Name, "", countRun: false);
            TestContext.Out.WriteLine($"handoff summary: peer killed during the drain; the call still ringing was kept and hung up, owner exited {exitedAfter:F2} s after SIGTERM");
            return 1;
        });
    }

    [Test]
    [Category("handoff")]
    public async Task Handoff_CallsStillRingingAtSigterm_AreServedByTheirOwnerUntilBridgedThenHandedOff()
    {
        var rig = _rig;
        await RunAndAssertAsync("handoff-ringing", async () =>
        {
            var a = await rig.StartInstanceAsync("A", Handoff);
            var calleeRinging = rig.NewCall(new Spec(Kind.CalleeRinging, Timing.Soon), "handoff-ringing:");
            var callerRinging = rig.NewCall(new Spec(Kind.CallerRinging, Timing.Soon), "handoff-ringing:");
            // they ring until the test picks them up, after the SIGTERM
            rig.Sim.SetBehaviour(calleeRinging.Numbers[1], PhoneBehaviour.NoAnswer(null));
            rig.Sim.SetBehaviour(callerRinging.Numbers[0], PhoneBehaviour.NoAnswer(null));
            callerRinging.AnswerOptional[0] = false; // served by its owner all along: its answer-event is due
            foreach (var c in new[] { calleeRinging, callerRinging }) c.ExpectCause[0] = c.ExpectCause[1] = "NORMAL_CLEARING";
            var calls = new List<TestCall> { calleeRinging, callerRinging };
            await rig.PushAndWaitStartedAsync(calls);
            var b = await rig.StartInstanceAsync("B", Handoff);
            await rig.WaitEventAsync(calleeRinging, "answer-event", "0", 10);
            foreach (var key in calls.Select(c => c.StatsKey).Distinct()) Stat(key).Runs++;
            string? ringingCallee = null, ringingCaller = null;
            await Waits.UntilAsync(async () =>
            {
                foreach (var (uuid, dial, side) in await rig.LegsAsync())
                {
                    if (dial == calleeRinging.DialId && side == 1) ringingCallee = uuid;
                    if (dial == callerRinging.DialId && side == 0) ringingCaller = uuid;
                }
                return ringingCallee is not null && ringingCaller is not null;
            }, 10, "both ringing legs on the simulator");

            var t0 = rig.Now;
            a.Terminate();
            // while they ring, the draining owner keeps them (nothing released yet) and reports itself draining
            var readyz = "";
            var draining = await rig.TryWaitAsync(async () =>
            {
                var (status, body) = await a.GetAsync("/readyz");
                readyz = $"{status} {body.Trim()}";
                return readyz == "503 draining";
            }, 3);
            rig.Check(draining, $"/readyz of the draining owner: {readyz}");
            foreach (var c in calls)
            {
                var owner = (string?)await rig.Redis.Db.HashGetAsync(Rig.StateKey(c.DialId), "owner");
                rig.Check(owner == a.Name, $"{c.DialId} [{c.Spec.Label}]: owner {owner ?? "<none>"} while it still rings, expected {a.Name}");
            }
            // answered (and bridged) under their owner, then claimed by the peer
            rig.Check(!a.HasExited, $"{a.Name} exited with two calls still ringing");
            Assert.That(await rig.Sim.PickUpAsync(ringingCallee!) && await rig.Sim.PickUpAsync(ringingCaller!), Is.True, "the phones pick up");
            foreach (var c in calls) await rig.WaitEventAsync(c, "answer-event", "1", 10);
            var claimed = await AllOwnedByAsync(calls, b.Name, 5);
            rig.Check(claimed, $"the bridged calls are not owned by {b.Name} 5 s after they were answered");
            var code = await a.ExitAsync(DrainTimeout + 15);
            rig.Check(code == 0, $"{a.Name} exited with {code}");
            var exitedAfter = rig.Now - t0;
            rig.Check(exitedAfter < DrainTimeout, $"{a.Name} exited {exitedAfter:F2} s after SIGTERM: it waited for DRAIN_TIMEOUT ({DrainTimeout} s) instead of leaving once both calls were handed off");
            var times = HandoffTimes(b);
            foreach (var c in calls)
                if (times.TryGetValue(c.DialId, out var ms)) Stat(c).Takeover.Add(ms / 1000.0);
                else Stat(c).NotTakenOver++;
            await rig.FindUuidsAsync(calls[0]);
            await rig.FindUuidsAsync(calls[1]);
            foreach (var c in calls)
            foreach (var side in new[] { 0, 1 })
                rig.Check(c.Uuids[side] is { } u && await rig.Sim.ChannelExistsAsync(u), $"{c.DialId} [{c.Spec.Label}]: side {side} not up after the hand-off");

            await HangupAllAsync(calls, "", withoutId: null);
            await rig.FinishAsync(calls, "");
            await rig.LedgerAsync(calls, _stats, a.Name, "", countRun: false);
            TestContext.Out.WriteLine($"handoff summary: ringing at SIGTERM, owner exited {exitedAfter:F2} s after it");
            return times.Count;
        });
    }

    [Test]
    [Category("handoff")]
    public async Task Handoff_RollingRestartOfTwoInstancesUnderFiveCallsPerSecond_NoCallHungUpNoControlAnsweredTwice()
    {
        var rig = _rig;
        const double interval = 0.2; // 5 calls/s
        const double replyWait = 2; // a producer resends what got no reply (SPEC §8.1 "The gap": after 10 s; sooner here)
        var names = new[] { "rollA", "rollB" };
        var procs = new ConcurrentDictionary<string, ServerProcess>();
        var all = new ConcurrentQueue<ServerProcess>();
        var calls = new ConcurrentQueue<TestCall>();
        var drives = new ConcurrentQueue<Task>();
        var unanswered = 0;
        var resentHangups = 0;
        var drainSeconds = new List<double>();

        async Task DriveAsync(TestCall c, Random random)
        {
            if (!await rig.TryWaitAsync(() => rig.Count(c, "answer-event", "1") >= 1, 15))
            {
                rig.Check(false, $"{c.DialId}: not answered within 15 s of its job: {rig.Trace(c)}");
                return;
            }
            await Task.Delay(TimeSpan.FromSeconds(1 + random.NextDouble() * 4));
            // a control message mid-call (an unknown type: answered with a failure, changes nothing)
            var probe = await rig.SendControlAsync(c, ProbeType, probe: true);
            if (await rig.WaitReplyAsync(c, probe, replyWait) is null) Interlocked.Increment(ref unanswered);
            await Task.Delay(TimeSpan.FromSeconds(random.NextDouble() * 2));
            for (var attempt = 0; attempt < 10; attempt++)
            {
                // sent as a probe: one in a gap may get no reply (then it is sent again), none may get two
                var id = await rig.SendControlAsync(c, "hangup", probe: true);
                if (await rig.WaitReplyAsync(c, id, replyWait) is { } reply)
                {
                    // (a resent one may find the call ended by the first, whose ack came late)
                    rig.Check(reply.Type == "ack" || attempt > 0 && reply is { Type: "failure", Cause: "call ended" }, $"{c.DialId}: hangup got {reply.Raw}");
                    break;
                }
                Interlocked.Increment(ref unanswered);
                Interlocked.Increment(ref resentHangups);
            }
            await rig.TryWaitAsync(() => rig.Count(c, "hangup-event", "0") >= 1 && rig.Count(c, "hangup-event", "1") >= 1, 10);
        }

        await RunAndAssertAsync("rolling", async () =>
        {
            foreach (var n in names)
            {
                var p = await rig.StartNamedAsync(n, Handoff);
                procs[n] = p;
                all.Enqueue(p);
            }
            using var stop = new CancellationTokenSource();
            var producer = Task.Run(async () =>
            {
                var start = rig.Now;
                for (var i = 0; i < 1000 && !stop.IsCancellationRequested; i++)
                {
                    var c = rig.NewCall(new Spec(Kind.Answered), "rolling:");
                    calls.Enqueue(c);
                    await rig.Redis.Db.ListRightPushAsync(JobList, Call(c.DialId, caller: c.Numbers[0], callee: c.Numbers[1], user: c.User));
                    var random = new Random(c.Index);
                    drives.Enqueue(Task.Run(() => DriveAsync(c, random)));
                    var next = start + (i + 1) * interval;
                    if (next > rig.Now) await Task.Delay(TimeSpan.FromSeconds(next - rig.Now));
                }
            });

            await rig.UntilTimeAsync(rig.Now + 6);
            foreach (var name in new[] { names[0], names[1], names[0] })
            {
                var p = procs[name];
                var t = rig.Now;
                p.Terminate();
                var code = await p.ExitAsync(DrainTimeout + 15);
                drainSeconds.Add(rig.Now - t);
                rig.Check(code == 0, $"{name} exited with {code} after SIGTERM");
                var again = await rig.StartNamedAsync(name, Handoff);
                procs[name] = again;
                all.Enqueue(again);
                await rig.UntilTimeAsync(rig.Now + 4);
            }
            await stop.CancelAsync();
            await producer;
            foreach (var d in drives) await d;
            var list = calls.ToList();
            foreach (var key in list.Select(c => c.StatsKey).Distinct()) Stat(key).Runs++;
            foreach (var c in list) c.ExpectCause[0] = c.ExpectCause[1] = "NORMAL_CLEARING";
            await rig.FinishAsync(list, "");
            await rig.LedgerAsync(list, _stats, victim: null, "", countRun: false);

            var times = all.SelectMany(p => HandoffTimes(p)).ToList();
            foreach (var (dial, ms) in times)
                if (list.FirstOrDefault(c => c.DialId == dial) is { } c) Stat(c).Takeover.Add(ms / 1000.0);
            var byDrain = list.Sum(c => rig.Events(c).Count(m => m.Type == "hangup-event" && m.Cause == "MANAGER_REQUEST"));
            var controls = list.Sum(c => c.SentMessages.Count);
            var replies = list.Sum(c => rig.Replies(c).Count);
            TestContext.Out.WriteLine($"rolling summary: calls={list.Count} at 5/s, 3 restarts (drains {string.Join(", ", drainSeconds.Select(s => s.ToString("F2", CultureInfo.InvariantCulture)))} s);"
                                      + $" calls handed off={times.Count}; legs hung up by a drain={byDrain}; control messages={controls}, replies={replies},"
                                      + $" unanswered (resent)={unanswered} of which hangups={resentHangups}; hand-off ms {MinMedianMax(times.Select(t => (double)t.Value).ToList(), "F0")}");
            rig.Check(byDrain == 0, $"{byDrain} leg(s) hung up with MANAGER_REQUEST by a drain");
            rig.Check(times.Count > 0, "no call was handed off: the restarts found no live call (the load did not reach them)");
            return times.Count;
        });
    }

    [Test]
    [Category("handoff")]
    public async Task Drain_HangupModeOrNoLivePeer_HangsUpWithManagerRequest_MetricsAndReadyzAnswerThroughout()
    {
        var rig = _rig;
        const int shortDrain = 4;
        var cases = new[]
        {
            ("hangup-mode", new Dictionary<string, string> { ["DRAIN_MODE"] = "hangup", ["DRAIN_TIMEOUT"] = $"{shortDrain}" }, true),
            ("no-peer", new Dictionary<string, string> { ["DRAIN_MODE"] = "handoff", ["DRAIN_TIMEOUT"] = $"{shortDrain}" }, false),
        };
        await RunAndAssertAsync("drain-hangup", async () =>
        {
            var ended = 0;
            foreach (var (label, env, withPeer) in cases)
            {
                var a = await rig.StartInstanceAsync("A", env);
                var calls = Enumerable.Range(0, 2).Select(_ => rig.NewCall(new Spec(Kind.Answered), label + ":")).ToList();
                foreach (var c in calls) c.ExpectCause[0] = c.ExpectCause[1] = "MANAGER_REQUEST";
                await rig.PushAndWaitStartedAsync(calls);
                await Task.WhenAll(calls.Select(PreKillAsync));
                ServerProcess? b = withPeer ? await rig.StartInstanceAsync("B", Handoff) : null;
                foreach (var key in calls.Select(c => c.StatsKey).Distinct()) Stat(key).Runs++;

                var t0 = rig.Now;
                a.Terminate();
                // through the drain, until the process exits: /readyz 503 "draining", /metrics 200
                var readyz = new List<string>();
                var metricsOk = 0;
                var metricsFailed = new List<(double At, string What)>();
                var readyzFailed = new List<(double At, string What)>();
                for (var i = 0; i < 400 && !a.HasExited && rig.Now - t0 < shortDrain + 10; i++)
                {
                    var (rs, rb) = await a.GetAsync("/readyz");
                    var (ms, mb) = await a.GetAsync("/metrics");
                    var answer = $"{rs} {rb.Trim()}";
                    // (the first polls may come before the process has handled the signal)
                    if (readyz.Count == 0 && answer == "200 ready" && rig.Now - t0 < 1) continue;
                    readyz.Add(answer);
                    if (answer != "503 draining") readyzFailed.Add((rig.Now, answer));
                    if (ms == 200 && mb.Contains("redswitch_calls_live")) metricsOk++;
                    else metricsFailed.Add((rig.Now, $"{ms} {mb[..Math.Min(80, mb.Length)]}"));
                    await Task.Delay(100);
                }
                var code = await a.ExitAsync(shortDrain + 20);
                var exitedAfter = rig.Now - t0;
                // the HTTP server is the last thing to stop: only an answer in the process's last moments may be missing
                var exitAt = rig.Now;
                readyzFailed.RemoveAll(f => exitAt - f.At < 0.5);
                metricsFailed.RemoveAll(f => exitAt - f.At < 0.5);
                rig.Check(code == 0, $"{label}: exited with {code}");
                rig.Check(exitedAfter >= shortDrain, $"{label}: exited {exitedAfter:F2} s after SIGTERM, before DRAIN_TIMEOUT ({shortDrain} s) with two live calls");
                rig.Check(readyz.Count >= 10 && readyzFailed.Count == 0, $"{label}: /readyz during the drain: {string.Join(", ", readyzFailed.Select(f => f.What).Distinct())} ({readyz.Count} polls)");
                rig.Check(metricsFailed.Count == 0 && metricsOk >= 10, $"{label}: /metrics during the drain: {metricsOk} ok, failed: {string.Join(", ", metricsFailed.Select(f => f.What).Distinct())}");
                await rig.FinishAsync(calls, label + ": ");
                await rig.LedgerAsync(calls, _stats, a.Name, label + ": ", countRun: false);
                if (b is not null)
                {
                    var taken = await b.MetricAsync("redswitch_calls_taken_over_total");
                    rig.Check(taken == 0, $"{label}: the peer took over {taken} call(s) although DRAIN_MODE=hangup");
                }
                rig.Check(a.Out.Any(l => l.Contains(withPeer ? "live call(s) to drain" : "no live peer to hand them to")),
                    $"{label}: the drain's first log line does not say why it hangs up");
                ended += calls.Count(c => rig.Count(c, "hangup-event") == 2);
                TestContext.Out.WriteLine($"drain summary: {label}: exited {exitedAfter:F2} s after SIGTERM (DRAIN_TIMEOUT {shortDrain}); /readyz polls {readyz.Count}, /metrics ok {metricsOk}");
                await rig.ResetAsync();
            }
            return ended;
        });
    }
}
