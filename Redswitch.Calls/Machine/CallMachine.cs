using Redswitch.Calls.FreeSwitch;
using Redswitch.Calls.Jobs;

namespace Redswitch.Calls;

/// <summary>
/// One call's decisions (SPEC §4, §5, §7): its legs, its socket, the barge, and every control message. Takes
/// <see cref="CallInput"/>s one at a time and answers with <see cref="ICallEffects"/>; no locks, no I/O, no clock.
/// The invariants live here: one answer-event and one hangup-event per leg, one ack or failure per control
/// message, no event after the end.
/// </summary>
public sealed partial class CallMachine
{
    private readonly CallJob _job;
    private readonly CallSettings _settings;
    private readonly DialStrings _dial;
    private readonly ICallEffects _fx;
    private readonly Func<string> _newUuid;
    private readonly Leg _a;
    private readonly Leg _b;
    private Leg? _g;
    /// <summary>Every leg ever dialled (timers name legs by index here).</summary>
    private readonly List<Leg> _legs = [];
    private string _nextBargeUuid;
    private CallPhase _phase;
    private SocketState _socket;
    private HangupRequest _hangup;
    private string _hangupCause = "NORMAL_CLEARING";
    private bool _jobSettled;
    // Made on first need: most calls never have a hangup before their start, a barge or a mode change.
    private List<PendingControl>? _hangupsBeforeStart;
    private List<PendingControl>? _pendingModes;
    private BargeMode? _mode;
    private string? _aFailedCause;
    private readonly InFlight<Pending> _pending = new();
    /// <summary>Originates whose BACKGROUND_JOB has not come, by the correlation of their bgapi.</summary>
    private readonly InFlight<Leg> _jobs = new();
    private long _lastCorrelation;

    /// <param name="newUuid">Leg uuids are chosen here, not by FreeSWITCH (the state hash names them before the originate).</param>
    public CallMachine(CallJob job, CallSettings settings, DialStrings dial, ICallEffects effects, Func<string> newUuid)
    {
        _job = job;
        _settings = settings;
        _dial = dial;
        _fx = effects;
        _newUuid = newUuid;
        _a = NewLeg(0, LegOrigin.AwaitingReply);
        _b = NewLeg(1, LegOrigin.Accepted); // dialled by the caller's bridge, not by an originate of ours
        _nextBargeUuid = newUuid();
    }

    public string DialId => _job.DialId;
    public CallJob Job => _job;
    public string CallerUuid => _a.Uuid;
    public CallPhase Phase => _phase;
    public SocketState Socket => _socket;
    public bool IsEnded => _phase == CallPhase.Ended;

    /// <summary>
    /// The call's part of its state hash, written (and confirmed by Redis) before the originate goes out (SPEC §8.1):
    /// a take-over finds the legs by these uuids.
    /// </summary>
    public IReadOnlyList<(string Field, string Value)> InitialState() =>
    [
        (CallState.OrgId, _job.OrgId), (CallState.UserId, _job.UserId), ("call_provider", _job.CallProvider),
        (CallState.CallerUuid, _a.Uuid), (CallState.CalleeUuid, _b.Uuid), (CallState.NextBargeUuid, _nextBargeUuid),
    ];

    /// <summary>A caller's connection is taken only while none is (and the call goes on).</summary>
    public bool AcceptsSocket =>
        (_phase != CallPhase.Ended || WatchingForLateLeg) && _socket is not (SocketState.Connected or SocketState.Lingering or SocketState.Exiting);

    /// <summary>
    /// The call may be let go of for a peer to claim (SPEC §8 "Graceful stop", §8.1 "Release"): nothing is in flight
    /// (a reply that came after the release would be lost, and with it an ack or a mode), and the call is either over
    /// (in its grace) or bridged: caller and callee answered, the bridge runs on its own (FreeSWITCH keeps it up when
    /// the socket closes), no hangup asked, no barge originate FreeSWITCH has not taken yet, no mode change waiting. A call still being set up is
    /// served here until it is one of these. (Timers are the owner's to check: a running one means the call is mid-step.)
    /// </summary>
    public bool CanHandOff
    {
        get
        {
            if (_pending.Count > 0) return false;
            // (the watch for a given-up caller's leg is this instance's: a new owner would not know to keep it)
            if (_phase == CallPhase.Ended) return !WatchingForLateLeg;
            // A BACKGROUND_JOB still due brings nothing a new owner does not learn from the leg's events and uuid_dump,
            // once FreeSWITCH has taken the originate.
            if (!_jobs.All(leg => leg.Ready)) return false;
            if (_phase != CallPhase.Started || _hangup != HangupRequest.None || _pendingModes is not null || _hangupsBeforeStart is not null) return false;
            if (_socket is not (SocketState.Connected or SocketState.Closed)) return false;
            static bool Up(Leg leg) => leg is { Phase: LegPhase.Answered, Ready: true };
            // A barge leg FreeSWITCH took may still ring: the new owner follows it (SPEC §8.1 "Resume").
            return Up(_a) && Up(_b) && (_g is null || !_g.Alive || _g.Ready);
        }
    }

    /// <summary>Commands in flight and originates whose BACKGROUND_JOB has not come (tests: nothing left behind).</summary>
    public int Outstanding => _pending.Count + _jobs.Count;

    public void Handle(CallInput input)
    {
        switch (input)
        {
            case StartCall: Start(); break;
            case CommandReplied r: OnReply(r.Correlation, r.Reply, r.LinkAlreadyBack); break;
            case BackgroundJobDone j: OnJob(j.Correlation, j.Result); break;
            case SocketConnected: OnSocketConnected(); break;
            case SocketClosed: OnSocketClosed(); break;
            case LegEvent e: OnLegEvent(e); break;
            case LinkRestored l: OnLinkRestored(l.FreeswitchRestarted); break;
            case ControlReceived c: OnControl(c.Message, c.ReceivedAt); break;
            case TimerFired t: OnTimer(t.Timer); break;
            case Drain d: OnDrain(d.LinkUp); break;
            case ForceEnd f: OnForceEnd(f.Cause); break;
            case Abandon: OnAbandon(); break;
            case ResumeCall r: OnResume(r); break;
            default: throw new ArgumentException($"unknown input {input.GetType().Name}");
        }
    }

    private Leg NewLeg(int side, LegOrigin origin, string? uuid = null)
    {
        var leg = new Leg(_legs.Count, side, uuid ?? _newUuid(), origin);
        _legs.Add(leg);
        return leg;
    }

    private BargeMode Mode => _mode ??= new BargeMode();

    /// <summary>Barge legs that have ended, in order (a refused one never rang and is not among them).</summary>
    private IEnumerable<Leg> PastBarges => _legs.Where(l => l.Side == 2 && l != _g && l.HangupPublished);

    private bool SocketAlive => _socket is SocketState.Connected or SocketState.Lingering;
    private bool SocketPresent => _socket is SocketState.Connected or SocketState.Lingering or SocketState.Exiting;

    // ------------------------------------------------------------------ start

    private void Start()
    {
        if (_phase != CallPhase.New) return;
        _fx.Claim(_a.Uuid);
        _fx.Claim(_b.Uuid);
        _fx.Claim(_nextBargeUuid);
        _a.Phase = LegPhase.Ringing;
        _phase = CallPhase.Originating;
        if (!BgApi(new Originate(_dial.OriginateCaller(_job, _a.Uuid, _settings.Advertise)), new Pending.CallerOriginate(), _a))
        {
            // The link went down between taking the job and sending: it goes back untouched.
            _a.Phase = LegPhase.Idle;
            _fx.Unclaim(_a.Uuid);
            _fx.Unclaim(_b.Uuid);
            _fx.Unclaim(_nextBargeUuid);
            _phase = CallPhase.Ended;
            // The job goes back to the list; a hangup already received still gets its one reply.
            foreach (var h in TakeHangupsBeforeStart()) Refuse(h, "freeswitch unavailable");
            Settle(JobSettlement.NotSent);
            _fx.Ended(new CallSummary("", "", Silent: true));
            return;
        }
        // Information: with "call ended", the two lines an operator greps a call's dial_id for.
        _fx.Log(CallLogLevel.Information, "originating caller {Number} (leg {Uuid})", FieldRules.Mask(_job.CallerNumber, _settings.LogPhoneNumbers), _a.Uuid);
    }

    private void OnCallerOriginateReply(FsReply reply, bool linkAlreadyBack)
    {
        switch (reply.Outcome)
        {
            case FsOutcome.Accepted:
                ConfirmStart(byReply: true);
                break;
            case FsOutcome.LinkLost:
                // The link dropped after the command was written: FreeSWITCH may be ringing the caller. The legs are
                // kept; the outbound socket, the BACKGROUND_JOB or uuid_exists once the link is back decides.
                if (_phase != CallPhase.Originating)
                {
                    Settle(JobSettlement.LinkLost);
                    return;
                }
                _a.Origin = LegOrigin.ReplyLost;
                _fx.Log(CallLogLevel.Warning, "control link lost before FreeSWITCH answered the originate; checking leg {Uuid} once it is back", _a.Uuid);
                AwaitConfirmation(_a, linkAlreadyBack);
                break;
            default:
                // FreeSWITCH refused the command itself.
                Fail(reply.Text);
                Settle(JobSettlement.Done);
                break;
        }
    }

    /// <summary>FreeSWITCH has the caller's originate: call-start, then whatever waited for it.</summary>
    private void ConfirmStart(bool byReply)
    {
        if (_phase != CallPhase.Originating) return;
        _fx.CancelTimer(_a.Timer(TimerKind.GiveUpLeg));
        _phase = CallPhase.Started;
        Publish(new CallStarted(byReply));
        Settle(JobSettlement.Done);
        MakeReady(_a);
        // (with the socket already here, OnSocketConnected hangs up through it)
        if (_hangup == HangupRequest.AwaitingStart && !SocketPresent)
        {
            _hangup = HangupRequest.Requested;
            KillLegs(_hangupCause, TakeHangupsBeforeStart(), ringingCause: _hangupCause == "MANAGER_REQUEST" ? "MANAGER_REQUEST" : "ORIGINATOR_CANCEL");
        }
    }

    private List<PendingControl> TakeHangupsBeforeStart()
    {
        var pending = _hangupsBeforeStart ?? [];
        _hangupsBeforeStart = null;
        return pending;
    }

    private void Settle(JobSettlement settlement)
    {
        if (_jobSettled) return;
        _jobSettled = true;
        _fx.Settle(settlement);
    }

    /// <summary>The caller's originate was lost with the link and its leg is not there: the call never happened.</summary>
    private const string LinkLost = "freeswitch link lost";

    /// <param name="mayStillShowUp">Not known to be impossible (the node did not restart): the caller's leg is watched
    /// for, and hung up if it shows up after all.</param>
    private void FailUnconfirmedStart(bool mayStillShowUp)
    {
        _a.Origin = LegOrigin.NotPlaced;
        Fail(LinkLost);
        Settle(JobSettlement.LinkLost);
        if (mayStillShowUp) WatchForLateLeg();
    }

    /// <summary>The call was never attempted: publish a failure, and end.</summary>
    private void Fail(string cause)
    {
        if (_phase == CallPhase.Ended) return;
        _a.Phase = LegPhase.Idle;
        Publish(new CallFailed(cause, cause == LinkLost));
        foreach (var h in TakeHangupsBeforeStart()) Refuse(h, "call ended");
        EndCall("failed");
    }

    private void OnCallerJob(FsJobResult result)
    {
        if (_phase == CallPhase.Ended) return;
        // Its result proves FreeSWITCH took the command, even when the reply was lost with the link.
        if (_a.Unconfirmed) ConfirmStart(byReply: false);
        switch (result.Outcome)
        {
            case FsJobOutcome.Answered:
                AnswerLeg(_a);
                // FreeSWITCH now runs the socket app; if its connection never reaches us (refused, network), the
                // leg would sit parked with nobody in control: give it a bounded time, then hang it up.
                if (!SocketPresent && _phase != CallPhase.Ended) ExpectSocket();
                break;
            case FsJobOutcome.HungUp:
                _a.Channel = LegChannel.Destroyed;
                HangupLeg(_a, result.Detail);
                break;
            default:
                if (!_a.AnswerPublished && !_a.HangupPublished) Fail(result.Detail.Length > 0 ? result.Detail : "originate failed");
                break;
        }
    }

    // ------------------------------------------------------------------ the end

    private void EndCall(string result)
    {
        if (_phase == CallPhase.Ended) return;
        _phase = CallPhase.Ended;
        _fx.CancelTimer(new CallTimer(TimerKind.SocketLate));
        _fx.CancelTimer(new CallTimer(TimerKind.SocketNeverCame));
        foreach (var leg in _legs)
        {
            _fx.CancelTimer(leg.Timer(TimerKind.GiveUpLeg));
            _fx.Unclaim(leg.Uuid);
            Unfollow(leg);
        }
        _fx.Unclaim(_nextBargeUuid);
        foreach (var h in TakeHangupsBeforeStart()) Refuse(h, "call ended");
        FailPendingModes("call ended");
        // Replies still due are awaited (a hangup's ack may come after its legs' events); BACKGROUND_JOBs are not.
        _jobs.Clear();
        _fx.Ended(new CallSummary(CallResult(result), SidesSummary(), Silent: false));
        _fx.SetTimer(new CallTimer(TimerKind.Release), _settings.EndedLinger);
    }

    private void OnAbandon()
    {
        if (_phase == CallPhase.Ended) return;
        _phase = CallPhase.Ended;
        _fx.Ended(new CallSummary("", "", Silent: true));
    }

    private string SidesSummary()
    {
        var sb = new System.Text.StringBuilder();
        foreach (var leg in new[] { _a, _b }.Concat(PastBarges))
        {
            if (!leg.Dialled && leg.Cause is null) continue;
            if (sb.Length > 0) sb.Append(", ");
            sb.Append("side ").Append(leg.Side).Append(leg.AnswerPublished ? " answered, " : " ").Append(leg.Cause ?? "-");
        }
        return sb.ToString();
    }

    private string CallResult(string result)
    {
        if (result != "completed") return result;
        if (_a.Cause is not null && !_a.AnswerPublished) return "caller_" + _a.Cause.ToLowerInvariant();
        if (_b.AnswerPublished) return "connected";
        return "callee_" + (_b.Cause ?? "unknown").ToLowerInvariant();
    }

    /// <summary>The one way out for call events: nothing is published after the end.</summary>
    private void Publish(CallEvent evt)
    {
        if (_phase == CallPhase.Ended)
        {
            _fx.Log(CallLogLevel.Warning, "not published after the call ended: {Event}", evt);
            return;
        }
        _fx.Publish(evt);
    }

    // ------------------------------------------------------------------ commands and their replies

    private long Track(Pending pending)
    {
        var correlation = ++_lastCorrelation;
        _pending.Add(correlation, pending);
        return correlation;
    }

    /// <summary>An api command; false when nothing went out.</summary>
    private bool Api(FsCommand command, Pending? pending, bool preferSocket = false)
    {
        var correlation = pending is null ? 0 : Track(pending);
        if (_fx.SendApi(command, correlation, preferSocket)) return true;
        if (correlation != 0) _pending.Remove(correlation);
        return false;
    }

    private bool BgApi(Originate command, Pending pending, Leg leg)
    {
        var correlation = Track(pending);
        _jobs.Add(correlation, leg);
        if (_fx.SendBgApi(command, correlation)) return true;
        _pending.Remove(correlation);
        _jobs.Remove(correlation);
        return false;
    }

    private void OnReply(long correlation, FsReply reply, bool linkAlreadyBack)
    {
        if (!_pending.Remove(correlation, out var pending)) return;
        switch (pending)
        {
            case Pending.CallerOriginate: OnCallerOriginateReply(reply, linkAlreadyBack); break;
            case Pending.BargeOriginate b: OnBargeOriginateReply(b.Leg, reply, linkAlreadyBack); break;
            case Pending.KillCaller:
                if (reply.Outcome == FsOutcome.NoSuchChannel) ReportGone(_a);
                break;
            case Pending.Kill k:
                // A barge leg whose originate reply was lost, and which FreeSWITCH does not know: it never rang.
                if (k.Leg.Unconfirmed && reply.Outcome == FsOutcome.NoSuchChannel) _fx.SetTimer(k.Leg.Timer(TimerKind.UnconfirmedGrace), _settings.GoneGrace);
                if (k.Batch is not null) KillDone(k.Batch, reply.Arrived);
                break;
            case Pending.CheckExists c:
                if (c.Leg == _a && WatchingForLateLeg)
                {
                    OnLateLegChecked(reply, end: false);
                    break;
                }
                if (reply.Outcome == FsOutcome.NoSuchChannel) ReportGone(c.Leg);
                break;
            case Pending.ConfirmExists c:
                if (!c.Leg.Unconfirmed || !reply.Arrived) return;
                if (reply.Outcome == FsOutcome.Accepted) Confirm(c.Leg);
                // Not there (yet): a node that stalled still runs the originate it received when it wakes, perhaps after
                // answering this. The leg is followed; it is a call if it shows up before its deadline (GiveUpLeg).
                else if (reply.Outcome == FsOutcome.NoSuchChannel)
                    _fx.Log(CallLogLevel.Information, "leg {Uuid} is not there yet; its originate stays unknown until it shows up or its deadline", c.Leg.Uuid);
                else _fx.SetTimer(c.Leg.Timer(TimerKind.UnconfirmedGrace), _settings.GoneGrace); // its last event may still be on its way
                break;
            case Pending.ModeChange m: OnModeReply(m.Control, reply); break;
            case Pending.SocketHangup s:
                foreach (var h in s.Requests)
                    if (reply.Outcome == FsOutcome.Accepted) Ack(h);
                    else Refuse(h, "freeswitch unavailable");
                break;
            case Pending.Dump d: OnDumpReply(d.Leg, reply); break;
            case Pending.LastCheck l: OnLastCheck(l.Leg, reply); break;
            case Pending.WatchEnd: OnLateLegChecked(reply, end: true); break;
            case Pending.Bridge:
                if (reply.Outcome == FsOutcome.Refused) _fx.Log(CallLogLevel.Warning, "bridge refused: {Reply}", reply.Text);
                break;
        }
    }

    private void OnJob(long correlation, FsJobResult result)
    {
        if (!_jobs.Remove(correlation, out var leg)) return;
        if (leg == _a) OnCallerJob(result);
        else OnBargeJob(leg, result);
    }

    private void OnTimer(CallTimer timer)
    {
        var leg = timer.Leg >= 0 && timer.Leg < _legs.Count ? _legs[timer.Leg] : null;
        switch (timer.Kind)
        {
            case TimerKind.SocketLate: OnSocketLate(); break;
            case TimerKind.SocketNeverCame: OnSocketNeverCame(); break;
            case TimerKind.GiveUpLeg when leg is not null: GiveUp(leg); break;
            case TimerKind.GoneGrace when leg is not null: OnGoneGrace(leg); break;
            case TimerKind.UnconfirmedGrace when leg is not null: Unconfirmable(leg); break;
            case TimerKind.SocketLinger: SendExit(); break;
            case TimerKind.Release:
                // A given-up caller's leg is asked for one last time first (the answer ends the watch).
                if (WatchingForLateLeg && !EndWatch()) break;
                ReleaseCall();
                break;
        }
    }

    /// <summary>The grace is over: the state hash goes (a take-over no longer finds the call), then the channel.</summary>
    private void ReleaseCall()
    {
        StopWatchingForLateLeg();
        _fx.DeleteState();
        _fx.Release();
    }
}
