using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Redswitch.Calls;
using Redswitch.Calls.FreeSwitch;
using Redswitch.Calls.Jobs;
using Redswitch.Protocol;
using Redswitch.Protocol.Messages;
using Redswitch.Server.Esl;
using Redswitch.Server.Metrics;
using Redswitch.Server.Redis;

namespace Redswitch.Server.Calls;

/// <summary>
/// Owns one call (one dial_id) for this instance: turns ESL and Redis input into <see cref="CallMachine"/> inputs and
/// carries out its effects against the control link, the outbound socket, the publisher and timers. Inputs are
/// taken under the owner's lock and handled one at a time (an input raised while one is handled, such as a reply
/// to a command on a connection that just closed, waits its turn); nothing in here blocks, so it may run on
/// DotNetty event-loop threads.
/// </summary>
public sealed partial class CallOwner : ICallEffects
{
    /// <summary>Only what the call acts on: each event is a few KiB to decode.</summary>
    private static readonly string[] SocketEvents =
    [
        "CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "DTMF",
    ];

    private readonly object _gate = new();
    private readonly CallContext _ctx;
    private readonly IControlLink _link;
    private readonly Func<Task> _unsubscribe;
    private readonly DialScope _scope;
    private readonly CallMachine _machine;
    /// <summary>Inputs raised while one is handled (made on first need: most calls never have one).</summary>
    private Queue<CallInput>? _inbox;
    private bool _handling;
    /// <summary>The timers set, a few at a time, none for most of a call (a dictionary's buckets would stay).</summary>
    private List<TimerSlot>? _timers;
    /// <summary>Job-UUIDs of this call's bgapi commands whose BACKGROUND_JOB has not come: the link keeps them across
    /// reconnects until the call forgets them (null while there is none, as for most of a call).</summary>
    private List<string>? _jobIds;
    private int _originates;
    private ICallSocket? _socket;
    private Action<JobSettlement>? _onSettled;
    private bool _notSent;
    private long _originateSent;
    /// <summary>The link generation the last originate (caller or barge) went out on.</summary>
    private int _sentGeneration;
    private readonly TaskCompletionSource _endedTcs = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Hold _hold;
    /// <summary>Inputs that came while the lease was in doubt: handled once the call is known to be still ours.</summary>
    private Queue<CallInput>? _held;
    /// <summary>The uuids the call claimed (a forgotten call lets go of them all).</summary>
    private readonly List<string> _claimed = new(3);

    /// <summary>Whether the owner acts on its call (SPEC §8.1 "Fencing").</summary>
    private enum Hold
    {
        Acting,
        /// <summary>The lease is in doubt: inputs wait, nothing goes to FreeSWITCH or Redis.</summary>
        Suspended,
        /// <summary>Let go of for a peer (SPEC §8.1 "Release"): everything is ignored; the release is on its way to Redis.</summary>
        Released,
        /// <summary>Another instance owns the call: everything is ignored.</summary>
        Forgotten,
    }

    private sealed class TimerSlot(CallTimer name)
    {
        public readonly CallTimer Name = name;
        public ITimer? Timer;
    }

    /// <param name="unsubscribe">Drops the call's Redis subscription (called EndedLinger after the call ended).</param>
    public CallOwner(CallJob job, CallContext ctx, IControlLink link, Func<Task> unsubscribe, long epoch = 1)
        : this(job, ctx, link, unsubscribe, epoch, null)
    {
    }

    private CallOwner(CallJob job, CallContext ctx, IControlLink link, Func<Task> unsubscribe, long epoch, CallSnapshot? snapshot)
    {
        _ctx = ctx;
        _link = link;
        _unsubscribe = unsubscribe;
        _scope = new DialScope(job.DialId);
        Epoch = epoch;
        _machine = snapshot is null
            ? new CallMachine(job, ctx.SocketHosts is { } hosts ? ctx.Settings with { Advertise = hosts() } : ctx.Settings, ctx.DialStrings, this,
                () => Guid.NewGuid().ToString())
            : CallMachine.Resumed(job, ctx.Settings, ctx.DialStrings, this, () => Guid.NewGuid().ToString(), snapshot);
    }

    /// <summary>A call taken over from its state hash (SPEC §8.1); <see cref="Resume"/> starts it.</summary>
    public static CallOwner Resumed(CallJob job, CallContext ctx, IControlLink link, Func<Task> unsubscribe, long epoch, CallSnapshot snapshot) =>
        new(job, ctx, link, unsubscribe, epoch, snapshot);

    /// <summary>The epoch this instance holds the call at (SPEC §8.1).</summary>
    public long Epoch { get; }

    /// <summary>The call's part of the state hash, written before the originate.</summary>
    public IReadOnlyList<(string Field, string Value)> InitialState() => _machine.InitialState();

    public CallJob Job => _machine.Job;
    public string DialId => _machine.DialId;
    public string CallerUuid => _machine.CallerUuid;
    public IControlLink Link => _link;

    /// <summary>The link's generation when the call was originated (see <see cref="IControlLink.Generation"/>).</summary>
    public int LinkGeneration { get; private set; }

    /// <summary>Completes when every leg has ended.</summary>
    public Task Ended => _endedTcs.Task;

    // ------------------------------------------------------------------ inputs

    /// <summary>
    /// Sends <c>bgapi originate</c> for the caller's leg. Returns false when nothing was sent (the link is down).
    /// <paramref name="onSettled"/> runs once it is known what becomes of the job (<see cref="JobSettlement"/>).
    /// </summary>
    public bool Start(Action<JobSettlement> onSettled)
    {
        lock (_gate)
        {
            _onSettled = onSettled;
            LinkGeneration = _link.Generation;
            _originateSent = Stopwatch.GetTimestamp();
            Feed(new StartCall());
            if (_notSent) return false;
            _link.CallPlaced();
            return true;
        }
    }

    /// <summary>The caller's leg connected; false when the call already has its socket (or ended): this one is closed.</summary>
    public bool OnSocketConnected(ICallSocket session)
    {
        lock (_gate)
        {
            if (_socket is not null || !_machine.AcceptsSocket)
            {
                Log(CallLogLevel.Warning, "second outbound connection for the call; closing it");
                session.TrySend(EslCommands.Exit(), _ => session.Close());
                return false;
            }
            _socket = session;
            _ctx.Metrics.OutboundSessionsOpen.Inc();
            Feed(new SocketConnected());
            return true;
        }
    }

    public void OnSocketEvent(EslEvent evt)
    {
        if (FsReplies.LegEvent(evt, fromSocket: true) is { } e) Feed(e);
    }

    public void OnInboundEvent(EslEvent evt)
    {
        if (FsReplies.LegEvent(evt, fromSocket: false) is { } e) Feed(e);
    }

    public void OnSocketClosed(ICallSocket session)
    {
        lock (_gate)
        {
            if (!ReferenceEquals(session, _socket)) return;
            _socket = null;
            _ctx.Metrics.OutboundSessionsOpen.Dec();
            Feed(new SocketClosed());
        }
    }

    /// <summary>The control link came back: legs we could not follow meanwhile are checked (SPEC §4).</summary>
    public void OnLinkRestored(bool freeswitchRestarted) => Feed(new LinkRestored(freeswitchRestarted));

    public void OnControl(string payload) => Feed(new ControlReceived(ControlMessage.Parse(payload), Stopwatch.GetTimestamp()));

    /// <summary>Hangs up whatever is left (graceful stop after DRAIN_TIMEOUT), with MANAGER_REQUEST.</summary>
    public void HangupForShutdown() => Feed(new Drain(_link.IsUp));

    /// <summary>Last resort when FreeSWITCH cannot be reached at exit: every side still ends in Redis.</summary>
    public void ForceEnd(string cause) => Feed(new ForceEnd(cause));

    /// <summary>Nothing was sent (the dispatcher gives the job back): forget the call without publishing.</summary>
    public void ForceEndSilently() => Feed(new Abandon());

    /// <summary>
    /// Starts a taken-over call: its legs are followed and asked for (SPEC §8.1 "Resume"); <paramref name="graceLeft"/>
    /// null for a live call, else what is left of an ended call's grace.
    /// </summary>
    public void Resume(bool nodeRestarted, TimeSpan? graceLeft)
    {
        lock (_gate)
        {
            LinkGeneration = _link.Generation;
            if (graceLeft is null) _link.CallPlaced();
            Feed(new ResumeCall(nodeRestarted, graceLeft ?? TimeSpan.Zero));
        }
    }

    /// <summary>The instance stops: an ended call's grace ends now (its state hash and index entry go).</summary>
    public void EndGrace()
    {
        lock (_gate)
            if (_machine.IsEnded) Feed(new TimerFired(new CallTimer(TimerKind.Release)));
    }

    /// <summary>The lease is in doubt: hold every input until it is known whether the call is still ours.</summary>
    public void Suspend()
    {
        lock (_gate)
            if (_hold == Hold.Acting) _hold = Hold.Suspended;
    }

    /// <summary>Still ours at our epoch: what came meanwhile is handled now, in order.</summary>
    public void Unsuspend()
    {
        Queue<CallInput>? held;
        lock (_gate)
        {
            if (_hold != Hold.Suspended) return;
            _hold = Hold.Acting;
            held = _held;
            _held = null;
        }
        while (held is not null && held.TryDequeue(out var input)) Feed(input);
    }

    /// <summary>
    /// Another instance owns the call now (SPEC §8.1): let go of everything without a word — no command to FreeSWITCH,
    /// no write, no reply. The new owner follows the legs itself.
    /// </summary>
    public void Forget()
    {
        lock (_gate)
        {
            if (_hold == Hold.Forgotten) return;
            if (_hold != Hold.Released) LetGo();
            _hold = Hold.Forgotten;
        }
        Gone();
    }

    /// <summary>
    /// Graceful stop with a live peer (SPEC §8.1 "Release"): once the call can change hands (<see cref="CallMachine.CanHandOff"/>,
    /// no timer but the grace's running), stop acting on it — socket closed, legs no longer followed here — and
    /// compare-and-set its owner to <c>released</c> behind its earlier writes; a peer claims it at once. False when it
    /// cannot be let go of yet (it is tried again after each of its inputs while the instance hands off).
    /// </summary>
    public bool TryHandOff()
    {
        lock (_gate)
        {
            if (_hold != Hold.Acting || _handling || !_machine.CanHandOff) return false;
            // Its grace is over (the state hash is deleted): nothing is left to hand on.
            if (!ReferenceEquals(_ctx.Registry.ByDialId(DialId), this)) return false;
            foreach (var slot in _timers ?? [])
                if (slot.Name.Kind is not (TimerKind.Release or TimerKind.SocketLinger)) return false; // mid-step
            _hold = Hold.Released;
            LetGo();
            Log(CallLogLevel.Debug, "released for a peer to claim");
            // Queued under the lock, as every write of the call is: behind its earlier writes, before anything after.
            _ctx.Publisher.Release(DialId, OnReleased);
        }
        return true;
    }

    /// <summary>Redis has the release: the call is no longer this instance's.</summary>
    private void OnReleased()
    {
        lock (_gate)
        {
            if (_hold != Hold.Released) return;
            _hold = Hold.Forgotten;
        }
        _ctx.Metrics.CallsReleased.Inc();
        Gone();
    }

    /// <summary>Drops what the call holds in this process: timers, held inputs, its uuids and filters, its socket.</summary>
    private void LetGo()
    {
        _held = null;
        _inbox = null;
        foreach (var slot in _timers ?? []) slot.Timer?.Dispose();
        _timers = null;
        foreach (var uuid in _claimed)
        {
            if (ReferenceEquals(_ctx.Registry.ByUuid(uuid), this)) _ctx.Registry.RemoveUuid(uuid);
            _link.Unfollow(uuid);
        }
        _claimed.Clear();
        foreach (var job in _jobIds ?? []) _link.ForgetJob(job);
        _jobIds = null;
        if (!_machine.IsEnded)
        {
            _ctx.Registry.MarkEnded();
            _link.CallEnded();
        }
        // A bridged call's legs stay up without it (the bridge runs on; esl-captures/socket-drop).
        _socket?.Close();
    }

    private void Gone()
    {
        _ctx.Registry.Remove(this);
        _endedTcs.TrySetResult();
        _ = _unsubscribe();
    }

    private void Feed(CallInput input)
    {
        lock (_gate)
        {
            if (_hold is Hold.Forgotten or Hold.Released) return;
            // Checked on every input, by the clock: a process that was paused acts on nothing it finds on waking.
            if (_hold == Hold.Suspended || _ctx.LeaseLapsed())
            {
                _hold = Hold.Suspended;
                (_held ??= new()).Enqueue(input);
                return;
            }
            if (_handling)
            {
                (_inbox ??= new()).Enqueue(input);
                return;
            }
            _handling = true;
            try
            {
                var next = input;
                do
                {
                    try { _machine.Handle(next); }
                    catch (Exception e)
                    {
                        // A bug in one decision must not wedge the call or the connection that delivered it.
                        using (_ctx.Logger.BeginScope(_scope))
                            _ctx.Logger.LogError(e, "call input {Input} failed", next.GetType().Name);
                    }
                } while (_inbox is not null && _inbox.TryDequeue(out next));
            }
            finally { _handling = false; }
            if (_ctx.HandingOff()) TryHandOff();
        }
    }

    // ------------------------------------------------------------------ effects: FreeSWITCH

    bool ICallEffects.SendOnSocket(SocketCommand command, long correlation)
    {
        var s = _socket;
        if (s is null) return false;
        Action<EslMessage?>? onReply = correlation == 0 ? null : r => Feed(new CommandReplied(correlation, FsReplies.Classify(null, r)));
        switch (command)
        {
            case SubscribeLegs subscribe:
                // One flush for the whole set-up: the bridge (or the hangup) that follows flushes.
                if (!s.TrySend(EslCommands.Linger(30), null, flush: false)) return false;
                s.TrySend(EslCommands.Event(EslEventFormat.Plain, SocketEvents), null, flush: false);
                foreach (var uuid in subscribe.Uuids) s.TrySend(EslCommands.Filter("Unique-ID", uuid), null, flush: false);
                return true;
            case FilterLeg f:
                return s.TrySend(EslCommands.Filter("Unique-ID", f.Uuid), onReply);
            case HangupCaller h:
                return s.TrySend(EslCommands.SendMsgHangup(null, h.Cause), onReply);
            case BridgeCallee b:
                return s.TrySend(EslCommands.SendMsgExecute(null, "bridge", b.DialString), onReply);
            case ExitSocket:
                if (!s.TrySend(EslCommands.Exit(), _ => s.Close())) s.Close();
                return true;
            default:
                throw new ArgumentException($"unknown socket command {command}");
        }
    }

    bool ICallEffects.SendApi(FsCommand command, long correlation, bool preferSocket)
    {
        Action<EslMessage?> onReply = correlation == 0 ? _ => { } : r => Feed(new CommandReplied(correlation, FsReplies.Classify(command, r)));
        if (preferSocket && _socket is { } s && s.TrySend(EslCommands.Api(command.Line), onReply)) return true;
        return _link.TryApi(command.Line, onReply);
    }

    bool ICallEffects.SendBgApi(Originate command, long correlation)
    {
        var caller = _originates++ == 0; // the first originate is the caller's
        var jobUuid = Guid.NewGuid().ToString();
        (_jobIds ??= []).Add(jobUuid);
        _sentGeneration = _link.Generation;
        return _link.TryBgApi(command.Line, jobUuid,
            r =>
            {
                // Every +OK counts, also one that comes after the socket started the call: a slow reply is a slow link.
                if (caller && r is CommandReply { IsOk: true }) _ctx.Metrics.OriginateLatency.Observe(Stopwatch.GetElapsedTime(_originateSent).TotalSeconds);
                Feed(new CommandReplied(correlation, FsReplies.Classify(null, r)) { LinkAlreadyBack = r is null && _link.IsUp && _link.Generation > _sentGeneration });
            },
            evt =>
            {
                lock (_gate) Forget(jobUuid); // the link dropped it as it delivered it
                Feed(new BackgroundJobDone(correlation, FsReplies.JobResult(evt.EventBodyText)));
            });
    }

    void ICallEffects.Follow(string uuid) => _link.Follow(uuid);

    void ICallEffects.Unfollow(string uuid) => _link.Unfollow(uuid);

    void ICallEffects.Claim(string uuid)
    {
        _ctx.Registry.AddUuid(uuid, this);
        if (!_claimed.Contains(uuid, StringComparer.OrdinalIgnoreCase)) _claimed.Add(uuid);
    }

    void ICallEffects.Unclaim(string uuid)
    {
        _ctx.Registry.RemoveUuid(uuid);
        _claimed.Remove(uuid);
    }

    // ------------------------------------------------------------------ effects: time and the call's end

    private void Forget(string jobUuid)
    {
        if (_jobIds is null || !_jobIds.Remove(jobUuid)) return;
        if (_jobIds.Count == 0) _jobIds = null;
    }

    void ICallEffects.SetTimer(CallTimer timer, TimeSpan after)
    {
        ((ICallEffects)this).CancelTimer(timer);
        var slot = new TimerSlot(timer);
        (_timers ??= []).Add(slot);
        // Under the lock: the callback cannot look at the slot before it holds its timer.
        slot.Timer = _ctx.Time.CreateTimer(_ => Fired(timer, slot), null, after, Timeout.InfiniteTimeSpan);
    }

    private void Fired(CallTimer timer, TimerSlot slot)
    {
        lock (_gate)
        {
            if (_timers is null || !_timers.Remove(slot)) return; // cancelled or replaced meanwhile
            if (_timers.Count == 0) _timers = null;
            slot.Timer?.Dispose();
            Feed(new TimerFired(timer));
        }
    }

    void ICallEffects.CancelTimer(CallTimer timer)
    {
        for (var i = 0; _timers is not null && i < _timers.Count; i++)
        {
            if (_timers[i].Name != timer) continue;
            _timers[i].Timer?.Dispose();
            _timers.RemoveAt(i);
            if (_timers.Count == 0) _timers = null;
            return;
        }
    }

    void ICallEffects.Settle(JobSettlement settlement)
    {
        if (settlement == JobSettlement.NotSent)
        {
            _notSent = true;
            _onSettled = null;
            return;
        }
        var done = _onSettled;
        _onSettled = null;
        done?.Invoke(settlement);
    }

    void ICallEffects.Ended(CallSummary summary)
    {
        _ctx.Registry.MarkEnded();
        if (!summary.Silent)
        {
            _link.CallEnded();
            _ctx.Metrics.CallsByResult.WithLabels(summary.Result).Inc();
            foreach (var job in _jobIds ?? []) _link.ForgetJob(job);
            _jobIds = null;
            Log(CallLogLevel.Information, "call ended ({Result}): {Sides}", summary.Result, summary.Sides);
            // The grace runs from here, for whoever owns the call then (SPEC §8.1).
            _ctx.Publisher.SaveState(DialId, (CallState.EndedAt, CallState.Number(_ctx.Time.GetUtcNow().ToUnixTimeMilliseconds())));
        }
        _endedTcs.TrySetResult();
    }

    void ICallEffects.Release()
    {
        // Timers still set (a SOCKET_LINGER longer than ENDED_LINGER) still fire: the exit must go out.
        _ctx.Registry.Remove(this);
        _ = _unsubscribe();
    }

    void ICallEffects.Log(CallLogLevel level, string template, params object?[] args) => Log(level, template, args);

    private void Log(CallLogLevel level, string template, params object?[] args)
    {
        var l = level switch { CallLogLevel.Debug => LogLevel.Debug, CallLogLevel.Information => LogLevel.Information, _ => LogLevel.Warning };
        if (!_ctx.Logger.IsEnabled(l)) return;
        using (_ctx.Logger.BeginScope(_scope))
#pragma warning disable CA2254 // the machine's templates are constants
            _ctx.Logger.Log(l, template, args);
#pragma warning restore CA2254
    }
}
