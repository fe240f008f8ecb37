using Redswitch.Calls;
using Redswitch.Calls.FreeSwitch;
using static Redswitch.Tests.Calls.CallDriver;

namespace Redswitch.Tests.Calls;

/// <summary>
/// Inputs that race in reality, in every order, each run driven to rest and checked against the SPEC's invariants
/// (§4: one answer-event and one hangup-event per leg, call-start first, nothing after the end; §5: one ack or
/// failure per control message) and for nothing left behind. Orderings covered (each test's comment says how):
/// (a) 48 + 120, (b) 120, (c) 2 × 14 = 28, (d) 2 × 105 + 2 × 10 = 230, (e) 2 × 105 = 210: 756 runs in all.
/// </summary>
[Parallelizable(ParallelScope.All)]
public class CallMachinePermutationTests
{
    /// <summary>A named input (or a few); steps that cannot happen in the state reached (nothing to reply to, the socket closed) do nothing.</summary>
    public sealed record Step(string Name, Action<CallDriver> Run)
    {
        public override string ToString() => Name;
    }

    // ------------------------------------------------------------------ orderings

    public static IEnumerable<IReadOnlyList<T>> Permutations<T>(IReadOnlyList<T> items)
    {
        if (items.Count <= 1)
        {
            yield return items;
            yield break;
        }
        for (var i = 0; i < items.Count; i++)
        {
            var rest = items.Where((_, j) => j != i).ToList();
            foreach (var p in Permutations(rest)) yield return [items[i], .. p];
        }
    }

    /// <summary><paramref name="item"/> inserted at every position of <paramref name="sequence"/> (sequence.Count + 1 orderings).</summary>
    public static IEnumerable<IReadOnlyList<T>> InsertedEverywhere<T>(IReadOnlyList<T> sequence, T item)
    {
        for (var i = 0; i <= sequence.Count; i++) yield return [.. sequence.Take(i), item, .. sequence.Skip(i)];
    }

    /// <summary><paramref name="first"/> then <paramref name="second"/> inserted at every pair of positions, first not after second.</summary>
    public static IEnumerable<IReadOnlyList<T>> PairInsertedEverywhere<T>(IReadOnlyList<T> sequence, T first, T second)
    {
        for (var i = 0; i <= sequence.Count; i++)
            for (var j = i; j <= sequence.Count; j++)
                yield return [.. sequence.Take(i), first, .. sequence.Skip(i).Take(j - i), second, .. sequence.Skip(j)];
    }

    [Test]
    public void Helpers_CountOrderings()
    {
        Assert.That(Permutations([1, 2, 3, 4, 5]).Select(p => string.Concat(p)).Distinct().Count(), Is.EqualTo(120));
        Assert.That(InsertedEverywhere([1, 2, 3], 9).Select(p => string.Concat(p)), Is.EqualTo(new[] { "9123", "1923", "1293", "1239" }));
        Assert.That(PairInsertedEverywhere([1, 2], 8, 9).Count(), Is.EqualTo(6));
    }

    [Test]
    public void Invariants_CatchWhatTheyAreFor()
    {
        var d = new CallDriver().AnsweredCall();
        Assert.That(Invariants(d, mustEnd: false), Is.Empty, "a call in progress is fine");
        Assert.That(Invariants(d, mustEnd: true), Has.Some.StartsWith("not ended"));

        var fx = d.Fx;
        fx.Publish(new SideAnswered(1));
        fx.Reply(new ControlReply("hangup", ReplyKind.Ack, null, null, 99));
        fx.Settle(JobSettlement.Done);
        fx.Publish(new SideHungUp(0, "NORMAL_CLEARING", false));
        fx.Publish(new SideAnswered(0));
        fx.Publish(new CallFailed("x", false));
        fx.Ended(new CallSummary("connected", "", false));
        fx.Publish(new SideHungUp(2, "NORMAL_CLEARING", false));
        fx.Ended(new CallSummary("connected", "", false));
        var found = Invariants(d, mustEnd: false);
        Assert.That(found, Is.SupersetOf(new[]
        {
            "side 1 answered twice without a hangup between", "a reply to no message", "settled 2 times: Done,Done",
            "side 0 hangup-event WasAnswered=False but answer-event was published", "side 0 answer-event after its hangup-event",
            "side 0 answered twice", "failure after call-start", "SideHungUp { Side = 2, Cause = NORMAL_CLEARING, WasAnswered = False } after Ended",
            "Ended 2 times",
        }));
    }

    // ------------------------------------------------------------------ steps

    private static bool Awaiting<T>(CallDriver d, string? uuid = null) =>
        d.Fx.AwaitingReply.Any(o => o.Command is T && (uuid is null || UuidOf(o.Command) == uuid));

    private static Step ReplyOriginate(FsReply reply, string uuid = Caller) =>
        new($"reply-originate({uuid}):{reply.Outcome}", d => { if (Awaiting<Originate>(d, uuid)) d.ReplyOriginate(reply, uuid); });

    private static Step Job(FsJobResult result, string uuid = Caller) =>
        new($"bgjob({uuid}):{result.Outcome}", d => { if (d.Fx.AwaitingJob.Any(o => UuidOf(o.Command) == uuid)) d.JobDone(result, uuid); });

    private static readonly Step Connect = new("connect", d => { if (d.Machine.AcceptsSocket && !d.Fx.SocketOpen) d.Connect(); });

    private static readonly Step Close = new("socket-closed", d => { if (d.Fx.SocketOpen) d.CloseSocket(); });

    private static readonly Step BridgeOk = new("reply-bridge:Ok", d => { if (Awaiting<BridgeCallee>(d)) d.ReplyToSocket<BridgeCallee>(FsReply.Ok); });

    /// <summary>A leg event on the socket (only while it is open) or on the control link.</summary>
    private static Step Ev(string uuid, LegEventKind kind, bool fromSocket, string? cause = null, bool hadAnswered = false) =>
        new($"{kind}({uuid},{(fromSocket ? "socket" : "link")})", d => { if (!fromSocket || d.Fx.SocketOpen) d.Event(uuid, kind, fromSocket, cause, hadAnswered); });

    /// <summary>A leg event on whichever connection carries it now.</summary>
    private static Step EvAny(string uuid, LegEventKind kind, string? cause = null) =>
        new($"{kind}({uuid})", d => d.Event(uuid, kind, d.Fx.SocketOpen, cause ?? (kind is LegEventKind.Hangup or LegEventKind.HangupComplete ? "NORMAL_CLEARING" : null), hadAnswered: true));

    private static Step Control(string type, string id, bool replyNow = false) =>
        new($"control({type},{id}{(replyNow ? ",replied" : "")})", d =>
        {
            d.Control(type == "barge" ? BargeMsg(id) : Msg(type, id));
            if (replyNow) d.ReplyAll(FsReply.Ok);
        });

    private static Step LinkLost => new("link-lost", d => { if (d.Fx.LinkUp) d.LoseLink(); });
    private static Step LinkBack => new("link-restored", d => { if (!d.Fx.LinkUp) d.RestoreLink(); });

    /// <summary>The happy path up to both sides talking, then the callee hangs up and the caller follows.</summary>
    private static readonly Step[] HappyPath =
    [
        new("start", d => d.Start()),
        ReplyOriginate(FsReply.Ok),
        Job(Answered),
        Connect,
        BridgeOk,
        EvAny(Callee, LegEventKind.Exists),
        EvAny(Callee, LegEventKind.Answer),
        EvAny(Callee, LegEventKind.Hangup),
        EvAny(Callee, LegEventKind.HangupComplete),
        EvAny(Caller, LegEventKind.Hangup),
        EvAny(Caller, LegEventKind.HangupComplete),
        Close,
    ];

    // ------------------------------------------------------------------ running and checking

    private static void Run(CallDriver d, IEnumerable<Step> prefix, IReadOnlyList<Step> steps, FsReply quiesceWith, FsJobResult? jobsWith = null)
    {
        foreach (var s in prefix) s.Run(d);
        foreach (var s in steps) s.Run(d);
        d.Quiesce(quiesceWith, jobsWith, world: true);
    }

    /// <summary>Runs every ordering; returns one line per violated invariant (with its input sequence), the first few orderings only.</summary>
    private static (int Runs, List<string> Failures) RunAll(IEnumerable<IReadOnlyList<Step>> orderings, Action<IReadOnlyList<Step>, CallDriver> run,
        Action<CallDriver, List<string>>? extra = null, bool mustEnd = true)
    {
        var failures = new List<string>();
        var runs = 0;
        foreach (var ordering in orderings)
        {
            runs++;
            var d = new CallDriver();
            var problems = new List<string>();
            try
            {
                run(ordering, d);
                problems.AddRange(Invariants(d, mustEnd));
                extra?.Invoke(d, problems);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                problems.Add($"threw {e.GetType().Name}: {e.Message}");
            }
            if (problems.Count > 0 && failures.Count < 10)
                failures.Add($"[{string.Join(", ", ordering)}]: {string.Join("; ", problems)}\n    inputs: {d.Trace}\n    events: {string.Join(", ", d.Fx.Events)}\n    replies: {string.Join(", ", d.Fx.Replies)}");
        }
        return (runs, failures);
    }

    /// <summary>The SPEC's invariants over one run's effects.</summary>
    public static List<string> Invariants(CallDriver d, bool mustEnd)
    {
        var p = new List<string>();
        var all = d.Fx.All;
        var started = 0;
        var failed = 0;
        var answered = new Dictionary<int, bool>();
        var answers = new Dictionary<int, int>();
        var hangups = new Dictionary<int, int>();
        var ended = false;
        foreach (var e in all)
        {
            if (e is EndedWith) ended = true;
            if (e is not Published { Event: var evt }) continue;
            if (ended) p.Add($"{evt} after Ended");
            switch (evt)
            {
                case CallStarted:
                    if (++started > 1) p.Add("call-start twice");
                    if (failed > 0) p.Add("call-start after failure");
                    break;
                case CallFailed:
                    if (++failed > 1) p.Add("failure twice");
                    if (started > 0) p.Add("failure after call-start");
                    break;
                case SideAnswered a:
                    if (started == 0) p.Add($"answer-event {a.Side} before call-start");
                    if (answered.GetValueOrDefault(a.Side)) p.Add($"side {a.Side} answered twice without a hangup between");
                    if (a.Side < 2 && hangups.GetValueOrDefault(a.Side) > 0) p.Add($"side {a.Side} answer-event after its hangup-event");
                    if (a.Side < 2 && answers.GetValueOrDefault(a.Side) > 0) p.Add($"side {a.Side} answered twice");
                    answered[a.Side] = true;
                    answers[a.Side] = answers.GetValueOrDefault(a.Side) + 1;
                    break;
                case SideHungUp h:
                    if (started == 0) p.Add($"hangup-event {h.Side} before call-start");
                    if (h.Side < 2 && hangups.GetValueOrDefault(h.Side) > 0) p.Add($"side {h.Side} hung up twice");
                    if (h.WasAnswered != answered.GetValueOrDefault(h.Side)) p.Add($"side {h.Side} hangup-event WasAnswered={h.WasAnswered} but answer-event {(answered.GetValueOrDefault(h.Side) ? "was" : "was not")} published");
                    answered[h.Side] = false;
                    hangups[h.Side] = hangups.GetValueOrDefault(h.Side) + 1;
                    break;
            }
        }
        var endings = d.Fx.Endings.Count();
        if (endings > 1) p.Add($"Ended {endings} times");
        if (d.Fx.Settlements.Count() > 1) p.Add($"settled {d.Fx.Settlements.Count()} times: {string.Join(",", d.Fx.Settlements)}");
        if (d.Fx.All.OfType<Released>().Count() > 1) p.Add("released twice");

        // every control message: exactly one ack or failure
        var received = d.Inputs.OfType<ControlReceived>().Select(c => c.ReceivedAt).ToList();
        foreach (var at in received)
        {
            var n = d.Fx.Replies.Count(r => r.ReceivedAt == at);
            if (n != 1) p.Add($"control message #{at} got {n} replies");
        }
        if (d.Fx.Replies.Any(r => !received.Contains(r.ReceivedAt))) p.Add("a reply to no message");

        if (mustEnd && !d.Machine.IsEnded) p.Add($"not ended (phase {d.Machine.Phase}, socket {d.Machine.Socket})");
        if (d.Machine.IsEnded)
        {
            if (endings != 1) p.Add("ended without Ended");
            foreach (var (side, open) in answered)
                if (open) p.Add($"side {side} answered and never hung up");
            var silent = d.Fx.Endings.FirstOrDefault()?.Silent ?? false;
            if (started == 1 && hangups.GetValueOrDefault(0) != 1) p.Add("side 0 without its hangup-event");
            if (!silent && started + failed != 1) p.Add("ended with neither call-start nor failure");
            if (d.Fx.Settlements.Count() != 1) p.Add("the job never settled");
            if (d.Machine.Outstanding != 0) p.Add($"Outstanding {d.Machine.Outstanding}");
            if (d.Fx.StillFollowed() is { Count: > 0 } f) p.Add($"still followed: {string.Join(",", f)}");
            if (d.Fx.StillClaimed() is { Count: > 0 } c) p.Add($"still claimed: {string.Join(",", c)}");
            if (!silent && d.Fx.All.OfType<Released>().Count() != 1) p.Add("never released");
        }
        if (d.Fx.AwaitingReply.Count > 0) p.Add("commands still awaiting replies");
        return p;
    }

    private static void AssertNone((int Runs, List<string> Failures) result, int expectedRuns)
    {
        Assert.That(result.Runs, Is.EqualTo(expectedRuns), "orderings run");
        Assert.That(result.Failures, Is.Empty, string.Join("\n", result.Failures));
    }

    // ------------------------------------------------------------------ (a) how FreeSWITCH's taking the originate shows

    /// <summary>(a) originate reply (+OK or lost) × BACKGROUND_JOB +OK × socket connect × the caller's CHANNEL_ANSWER on the control link: 2 × 4! = 48 orderings.</summary>
    [Test]
    public void A_StartSignals_InEveryOrder()
    {
        var total = 0;
        var failures = new List<string>();
        foreach (var reply in new[] { FsReply.Ok, FsReply.Lost })
        {
            Step[] set = [ReplyOriginate(reply), Job(Answered), Connect, Ev(Caller, LegEventKind.Answer, fromSocket: false)];
            var r = RunAll(Permutations(set), (ordering, d) =>
            {
                d.Start();
                foreach (var s in ordering) s.Run(d);
                // every signal says FreeSWITCH has the call: exactly call-start then side 0's answer, and the bridge
                Assert.That(d.Fx.Events, Is.EqualTo(new CallEvent[] { new CallStarted(d.Fx.Events.OfType<CallStarted>().Single().ByReply), new SideAnswered(0) }));
                Assert.That(d.Fx.Settlements, Is.EqualTo(new[] { JobSettlement.Done }));
                Assert.That(d.Fx.SocketCommands.OfType<BridgeCallee>().Count(), Is.EqualTo(1));
                Assert.That(d.Fx.IsArmed(new CallTimer(TimerKind.GiveUpLeg, 0)), Is.False, "confirmed: nothing to give up");
                foreach (var s in HappyPath.Skip(4)) s.Run(d);
                d.Quiesce(FsReply.Ok, world: true);
            });
            total += r.Runs;
            failures.AddRange(r.Failures);
        }
        AssertNone((total, failures), 48);
    }

    /// <summary>(a2) the same four with a hangup message racing them (+OK reply): 5! = 120 orderings.</summary>
    [Test]
    public void A2_StartSignalsAndAHangup_InEveryOrder()
    {
        Step[] set = [ReplyOriginate(FsReply.Ok), Job(Answered), Connect, Ev(Caller, LegEventKind.Answer, fromSocket: false), Control("hangup", "1")];
        AssertNone(RunAll(Permutations(set), (ordering, d) =>
        {
            d.Start();
            foreach (var s in ordering) s.Run(d);
            d.Quiesce(FsReply.Ok, world: true);
        }, (d, p) =>
        {
            if (d.Fx.Replies.Single().Kind != ReplyKind.Ack) p.Add($"hangup not acked: {d.Fx.Replies.Single()}");
            if (d.Fx.Events.OfType<SideAnswered>().Any(a => a.Side == 1)) p.Add("the callee answered after a hangup");
        }), 120);
    }

    // ------------------------------------------------------------------ (b) the callee's answer and hangup on two connections

    /// <summary>
    /// (b) the callee's CHANNEL_ANSWER and CHANNEL_HANGUP on the socket, its CHANNEL_ANSWER and
    /// CHANNEL_HANGUP_COMPLETE on the control link, and the socket closing: 5! = 120 orderings (socket events after
    /// the close never arrive; link events while the socket is up are the machine's to ignore).
    /// </summary>
    [Test]
    public void B_CalleeAnswerAndHangup_SocketVersusLink()
    {
        Step[] prefix = [.. HappyPath.Take(5), EvAny(Callee, LegEventKind.Exists)];
        Step[] set =
        [
            Ev(Callee, LegEventKind.Answer, fromSocket: true),
            Ev(Callee, LegEventKind.Hangup, fromSocket: true, "NORMAL_CLEARING"),
            Ev(Callee, LegEventKind.Answer, fromSocket: false),
            Ev(Callee, LegEventKind.HangupComplete, fromSocket: false, "NORMAL_CLEARING", hadAnswered: true),
            Close,
        ];
        AssertNone(RunAll(Permutations(set), (ordering, d) => Run(d, prefix, ordering, FsReply.Ok), (d, p) =>
        {
            if (d.Fx.Events.OfType<SideHungUp>().Count(h => h.Side == 1) != 1) p.Add("side 1 without exactly one hangup-event");
            if (d.Fx.Events.OfType<SideHungUp>().Count(h => h.Side == 0) != 1) p.Add("side 0 without exactly one hangup-event");
        }), 120);
    }

    // ------------------------------------------------------------------ (c) a hangup message anywhere

    /// <summary>
    /// (c) a hangup message at each of the 14 positions of the happy path (from before the start to after the socket
    /// closed, and a stray event after that), its uuid_kills answered at once or only at the end: 2 × 14 = 28 orderings.
    /// </summary>
    [Test]
    public void C_HangupMessage_AtEveryPosition([Values] bool replyNow)
    {
        var hangup = Control("hangup", "\"h\"", replyNow);
        Step[] sequence = [.. HappyPath, EvAny(Barger, LegEventKind.Other)]; // an unrelated trailing event (own uuid, never dialled)
        // position 0 (before the start) too: the call's channel carries messages from the moment the job is taken
        var r = RunAll(InsertedEverywhere(sequence, hangup), (ordering, d) => Run(d, [], ordering, FsReply.Ok), (d, p) =>
        {
            var reply = d.Fx.Replies.Single();
            var at = d.Inputs.FindIndex(i => i is ControlReceived);
            var afterEnd = d.Inputs.Take(at).Any(i => i is LegEvent { Uuid: Caller, Kind: LegEventKind.Hangup });
            if (afterEnd && reply != new ControlReply("hangup", ReplyKind.Failure, "call ended", "\"h\"", 1)) p.Add($"after the end expected 'call ended', got {reply}");
            // answered at once: acked; answered only at the end, the kills that went on the socket are lost as it closes
            if (!afterEnd && reply.Kind != ReplyKind.Ack && (replyNow || reply.Cause != "freeswitch unavailable")) p.Add($"expected an ack, got {reply}");
            if (!afterEnd && d.Fx.ApiCommands.OfType<UuidKill>().All(k => k.Uuid != Caller) && !d.Fx.SocketCommands.OfType<HangupCaller>().Any())
                p.Add("the caller was never hung up");
        });
        AssertNone(r, sequence.Length + 1);
    }

    // ------------------------------------------------------------------ (d) barge and whisper anywhere

    /// <summary>
    /// (d1) a barge message, and later its originate's reply (+OK, then the barger answers; or refused), at every
    /// pair of positions of the happy path, the barger hanging up last: 14 × 15 / 2 = 105 orderings per reply, 210 in all.
    /// </summary>
    [Test]
    public void D_BargeMessage_AtEveryPosition([Values] bool accepted)
    {
        var barge = Control("barge", "\"b\"");
        var reply = new Step(accepted ? "barge +OK, barger answers" : "barge refused", d =>
        {
            if (!Awaiting<Originate>(d, Barger)) return;
            d.ReplyOriginate(accepted ? FsReply.Ok : FsReply.Refused("-ERR USER_BUSY"), Barger);
            if (accepted) d.Event(Barger, LegEventKind.Answer, d.Fx.SocketOpen);
        });
        Step[] sequence = [.. HappyPath, EvAny(Barger, LegEventKind.Hangup)];
        AssertNone(RunAll(PairInsertedEverywhere(sequence, barge, reply), (ordering, d) => Run(d, [], ordering, FsReply.Ok, HungUp("NORMAL_CLEARING")), (d, p) =>
        {
            var r = d.Fx.Replies.Single();
            var bargeAt = d.Inputs.FindIndex(i => i is ControlReceived);
            var callerAnsweredBefore = d.Inputs.Take(bargeAt).Any(i => i is SocketConnected or BackgroundJobDone);
            // the callee leaving sends the caller's hang-up: from then on the caller counts as gone
            var callerHungUpBefore = d.Inputs.Take(bargeAt).Any(i => i is LegEvent { Uuid: Caller or Callee, Kind: LegEventKind.Hangup });
            if (r.Kind == ReplyKind.Ack && !accepted) p.Add("a refused barge acked");
            if (d.Fx.Events.Any(e => e is SideAnswered { Side: 2 }) && r.Kind != ReplyKind.Ack) p.Add("side 2 answered without its barge acked");
            if ((!callerAnsweredBefore || callerHungUpBefore) && r.Kind == ReplyKind.Ack) p.Add("barge acked while the caller was not talking");
            if (callerAnsweredBefore && !callerHungUpBefore && accepted && r.Kind != ReplyKind.Ack) p.Add($"barge on a talking caller not acked: {r}");
        }), (sequence.Length + 1) * (sequence.Length + 2) / 2);
    }

    /// <summary>(d2) a whisper message at each of the 10 positions of a barge (barge, +OK, the barger answers, the barger and then the call hang up), its uuid_recv_dtmf accepted or refused: 2 × 10 = 20 orderings.</summary>
    [Test]
    public void D_WhisperMessage_AtEveryPositionOfABarge([Values] bool accepted)
    {
        Step[] prefix = [.. HappyPath.Take(7)];
        var whisper = Control("whisper", "\"w\"");
        Step[] sequence =
        [
            Control("barge", "\"b\""),
            ReplyOriginate(FsReply.Ok, Barger),
            Ev(Barger, LegEventKind.Exists, true),
            Ev(Barger, LegEventKind.Answer, true),
            new("reply-dtmf", d => { if (Awaiting<UuidRecvDtmf>(d)) d.ReplyTo<UuidRecvDtmf>(Barger, accepted ? FsReply.Ok : FsReply.Refused("-ERR Operation failed")); }),
            Ev(Barger, LegEventKind.Hangup, true, "NORMAL_CLEARING"),
            .. HappyPath.Skip(7).Take(3),
        ];
        AssertNone(RunAll(InsertedEverywhere(sequence, whisper), (ordering, d) => Run(d, prefix, ordering, FsReply.Ok), (d, p) =>
        {
            var w = d.Fx.Replies.Single(r => r.Type == "whisper");
            var dtmf = d.Fx.ApiCommands.OfType<UuidRecvDtmf>().ToList();
            if (w.Kind == ReplyKind.Ack && (dtmf.Count != 1 || dtmf[0] != new UuidRecvDtmf(Barger, "2"))) p.Add($"whisper acked, digits sent: {string.Join(",", dtmf)}");
            if (dtmf.Count > 1) p.Add("whisper's digit sent twice");
            if (d.Fx.Replies.Single(r => r.Type == "barge").Kind != ReplyKind.Ack) p.Add("barge not acked");
        }), sequence.Length + 1);
    }

    // ------------------------------------------------------------------ (e) link loss in every phase

    /// <summary>
    /// (e) the control link lost (its outstanding replies come back lost, its BACKGROUND_JOBs never) and restored at
    /// every pair of positions of the happy path and a late hangup message (14 × 15 / 2 = 105), with what is left at the
    /// end answered +OK (FreeSWITCH had it), and again with every reply "no such channel": 2 × 105 = 210 orderings.
    /// </summary>
    [Test]
    public void E_LinkLossAndReturn_AtEveryPhase([Values] bool legsExist)
    {
        Step[] sequence = [.. HappyPath, new("control(hangup)", d => d.Control(Msg("hangup", "\"late\"")))];
        var r = RunAll(PairInsertedEverywhere(sequence, LinkLost, LinkBack), (ordering, d) =>
        {
            foreach (var s in ordering) s.Run(d);
            d.Quiesce(legsExist ? FsReply.Ok : FsReply.Gone, world: true);
        }, (d, p) =>
        {
            var settled = d.Fx.Settlements.SingleOrDefault();
            var failedLinkLost = d.Fx.Events.OfType<CallFailed>().Any(f => f.LinkLost);
            if (failedLinkLost != (settled == JobSettlement.LinkLost) && settled != JobSettlement.NotSent) p.Add($"failure 'freeswitch link lost' {failedLinkLost} but settled {settled}");
            if (d.Fx.Events.OfType<CallStarted>().Any() && settled != JobSettlement.Done) p.Add($"call started but settled {settled}");
        }, mustEnd: true);
        AssertNone(r, (sequence.Length + 1) * (sequence.Length + 2) / 2);
    }
}
