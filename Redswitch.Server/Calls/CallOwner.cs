using Redswitch.Calls;
using Redswitch.Calls.FreeSwitch;
using Redswitch.Calls.Jobs;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Redswitch.Protocol;
using Redswitch.Protocol.Messages;
using Redswitch.Server.Configuration;
using Redswitch.Server.Esl;
using Redswitch.Server.Metrics;
using Redswitch.Server.Redis;

namespace Redswitch.Server.Calls;

/// <summary>The services every call owner shares.</summary>
public sealed class CallContext(
    RedswitchOptions options,
    DialStrings dialStrings,
    ICallPublisher publisher,
    CallRegistry registry,
    RedswitchMetrics metrics,
    ILogger logger,
    string advertise,
    string instanceId)
{
    public string InstanceId { get; } = instanceId;
    public RedswitchOptions Options { get; } = options;
    public DialStrings DialStrings { get; } = dialStrings;
    public ICallPublisher Publisher { get; } = publisher;
    public CallRegistry Registry { get; } = registry;
    public RedswitchMetrics Metrics { get; } = metrics;
    public ILogger Logger { get; } = logger;
    public string Advertise { get; } = advertise;
}

/// <summary>
/// Owns one call (one dial_id): its legs and their uuids, the outbound socket, the barge mode; turns
/// FreeSWITCH events into answer-/hangup-events (exactly one per side) and control messages into ESL
/// commands (exactly one ack or failure per message). Every input takes the owner's lock; nothing in
/// here blocks, so it may run on DotNetty event-loop threads.
/// </summary>
public sealed class CallOwner
{
    private sealed class Leg(int side, string uuid)
    {
        public readonly int Side = side;
        public readonly string Uuid = uuid;
        public bool Dialled;
        public bool Seen;
        public bool AnswerPublished;
        public bool HangupPublished;
        public bool Complete;
        public bool KillSent;
        public string? Cause;
        /// <summary>False until FreeSWITCH accepted the leg's originate (call-start / barge ack go first).</summary>
        public bool Ready = true;
        public bool PendingAnswer;
        public string? PendingHangup;
        /// <summary>The link dropped before FreeSWITCH answered this leg's originate: it may or may not exist.</summary>
        public bool Unconfirmed;
        /// <summary>The control link delivers this leg's events (<see cref="InboundLink.Follow"/>).</summary>
        public bool Followed;
        /// <summary>The barge message that dialled this leg, answered once the originate is accepted.</summary>
        public PendingMode? Request;
        /// <summary>While <see cref="Unconfirmed"/>: when to give the leg up.</summary>
        public Timer? Deadline;

        public void StopDeadline()
        {
            Deadline?.Dispose();
            Deadline = null;
        }
        public bool Alive => Dialled && !HangupPublished;
    }

    private sealed record PendingMode(string Type, string? Id, BargeMode.Change? Change, long Received);

    /// <summary>Only what the owner acts on: each event is a few KiB to decode.</summary>
    private static readonly string[] SocketEvents =
    [
        "CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "DTMF",
    ];

    private static readonly HashSet<string> OwnTypes = new(StringComparer.Ordinal)
    {
        "call-start", "answer-event", "hangup-event", "failure", "ack",
    };

    private readonly object _gate = new();
    private readonly CallContext _ctx;
    private readonly InboundLink _link;
    private readonly DialScope _scope;
    private readonly Leg _a;
    private readonly Leg _b;
    private Leg? _g;
    private string _nextBargeUuid = Guid.NewGuid().ToString();
    private readonly List<Leg> _pastBarges = [];
    private readonly List<PendingMode> _pendingModes = [];
    private EslSession? _socket;
    private bool _exitSent;
    private bool _callStarted;
    private bool _ended;
    private bool _aHangupSent;
    private bool _hangupRequested;
    private bool _failed;
    private readonly BargeMode _mode = new();
    private string? _aFailedCause;
    private Timer? _lingerTimer;
    private Timer? _unsubscribeTimer;
    private Action<bool>? _onOriginateReplied;
    /// <summary>Job-UUIDs of this call's bgapi commands: the link keeps them across reconnects until the call forgets them.</summary>
    private readonly List<string> _jobIds = [];
    /// <summary>Hangup messages received before FreeSWITCH accepted the originate: answered once it did.</summary>
    private readonly List<(string? Id, long Received)> _hangupsBeforeStart = [];
    private long _originateSent;
    private readonly TaskCompletionSource _endedTcs = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public CallJob Job { get; }
    public string DialId => Job.DialId;
    public InboundLink Link => _link;

    /// <summary>The link's generation when the call was originated (see <see cref="InboundLink.Generation"/>).</summary>
    public int LinkGeneration { get; private set; }
    public string CallerUuid => _a.Uuid;

    /// <summary>Set by the dispatcher: drops the Redis subscription (called 60 s after the call ended).</summary>
    public Func<Task>? Unsubscribe { get; set; }

    /// <summary>Completes when every leg has ended.</summary>
    public Task Ended => _endedTcs.Task;

    public CallOwner(CallJob job, CallContext ctx, InboundLink link)
    {
        Job = job;
        _ctx = ctx;
        _link = link;
        _scope = new DialScope(job.DialId);
        _a = new Leg(0, Guid.NewGuid().ToString()) { Ready = false };
        _b = new Leg(1, Guid.NewGuid().ToString());
    }

    // ------------------------------------------------------------------ start

    /// <summary>
    /// Sends <c>bgapi originate</c> for the caller's leg. Returns false when the link is down (nothing was
    /// sent). <paramref name="onSettled"/> runs once it is known whether FreeSWITCH took the command: true when
    /// it accepted or refused it, false when that cannot be known (the link was lost before its reply and the
    /// leg was not found once it came back) — the job is then kept aside, not retried.
    /// </summary>
    public bool Start(Action<bool> onSettled)
    {
        lock (_gate)
        {
            _onOriginateReplied = onSettled;
            _ctx.Registry.AddUuid(_a.Uuid, this);
            _ctx.Registry.AddUuid(_b.Uuid, this);
            _ctx.Registry.AddUuid(_nextBargeUuid, this);
            _a.Dialled = true;
            LinkGeneration = _sentGeneration = _link.Generation;
            _originateSent = Stopwatch.GetTimestamp();
            var cmd = _ctx.DialStrings.OriginateCaller(Job, _a.Uuid, _ctx.Advertise);
            var originateJob = Guid.NewGuid().ToString();
            _jobIds.Add(originateJob);
            var sent = _link.TryBgApi(cmd, originateJob, OnOriginateReply, OnCallerJob);
            if (!sent)
            {
                _a.Dialled = false;
                _ctx.Registry.RemoveUuid(_a.Uuid);
                _ctx.Registry.RemoveUuid(_b.Uuid);
                _ctx.Registry.RemoveUuid(_nextBargeUuid);
                return false;
            }
            Interlocked.Increment(ref _link.LiveCalls);
            Log(LogLevel.Debug, "originating caller {Number} (leg {Uuid})", FieldRules.Mask(Job.CallerNumber, _ctx.Options.LogPhoneNumbers), _a.Uuid);
            return true;
        }
    }

    private void OnOriginateReply(EslMessage? reply)
    {
        lock (_gate)
        {
            if (reply is CommandReply { IsOk: true })
            {
                _ctx.Metrics.OriginateLatency.Observe(Stopwatch.GetElapsedTime(_originateSent).TotalSeconds);
                ConfirmStart();
            }
            else if (reply is null)
            {
                // The link dropped after the command was written: FreeSWITCH may be ringing the caller. The legs
                // are kept; the outbound socket, the BACKGROUND_JOB or a uuid_exists once the link is back decides.
                if (_ended || _callStarted || _failed)
                {
                    Settle(false);
                    return;
                }
                _a.Unconfirmed = true;
                Log(LogLevel.Warning, "control link lost before FreeSWITCH answered the originate; checking leg {Uuid} once it is back", _a.Uuid);
                AwaitConfirmation(_a);
            }
            else
            {
                // FreeSWITCH refused the command itself.
                Fail(Describe(reply));
                Settle(true);
            }
        }
    }

    /// <summary>FreeSWITCH has the caller's originate: call-start, then whatever waited for it.</summary>
    private void ConfirmStart()
    {
        if (_callStarted || _failed || _ended) return;
        _a.Unconfirmed = false;
        _a.StopDeadline();
        _callStarted = true;
        _ctx.Publisher.Start(DialId, Job.OrgId, Job.UserId, Json.CallStart(DialId));
        _ctx.Publisher.SaveState(DialId, ("instance", _ctx.InstanceId), ("node", _link.Node.ToString()), ("org_id", Job.OrgId),
            ("user_id", Job.UserId), ("call_provider", Job.CallProvider), ("uuid_0", _a.Uuid), ("uuid_1", _b.Uuid), ("barge_next", _nextBargeUuid));
        Settle(true);
        MakeReady(_a);
        // (with the socket already here, OnSocketConnected hangs up through it)
        if (_aHangupPendingStart && _socket is null)
        {
            _aHangupPendingStart = false;
            var pending = TakeHangupsBeforeStart();
            KillLegs(_hangupCause,
                () => { foreach (var h in pending) Ack("hangup", h.Id, h.Received); },
                () => { foreach (var h in pending) Refuse("hangup", "freeswitch unavailable", h.Id); },
                ringingCause: _hangupCause == "MANAGER_REQUEST" ? "MANAGER_REQUEST" : "ORIGINATOR_CANCEL");
        }
    }

    private (string? Id, long Received)[] TakeHangupsBeforeStart()
    {
        var pending = _hangupsBeforeStart.ToArray();
        _hangupsBeforeStart.Clear();
        return pending;
    }

    /// <summary>Tells the dispatcher what to do with the job (once).</summary>
    private void Settle(bool known)
    {
        var done = _onOriginateReplied;
        _onOriginateReplied = null;
        done?.Invoke(known);
    }

    /// <summary>
    /// Bounds the wait for a leg whose originate reply was lost: past ringing and the socket's connect time, a leg
    /// FreeSWITCH had would have shown itself. Checks at once when the link already came back (the null reply
    /// can come after the reconnect, for a command queued as the connection closed).
    /// </summary>
    private void AwaitConfirmation(Leg leg)
    {
        if (_link.IsUp && _link.Generation > _sentGeneration) OnLinkRestored(false);
        leg.StopDeadline();
        Timer? timer = null;
        timer = new Timer(_ =>
        {
            lock (_gate)
            {
                if (!ReferenceEquals(leg.Deadline, timer)) return; // stopped or replaced meanwhile
                leg.StopDeadline();
                if (!leg.Unconfirmed) return;
                Log(LogLevel.Warning, "leg {Uuid} never showed up after its originate reply was lost; giving it up", leg.Uuid);
                // In case FreeSWITCH has it after all and the link can still say so: do not leave it ringing.
                _link.TryApi($"uuid_kill {leg.Uuid} ORIGINATOR_CANCEL", _ => { });
                Unconfirmable(leg);
            }
        }, null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        leg.Deadline = timer;
        timer.Change(TimeSpan.FromSeconds(_ctx.Options.RingTimeoutSeconds) + _ctx.Options.SocketConnectTimeout, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The link generation the last originate (caller or barge) went out on.</summary>
    private int _sentGeneration;

    /// <summary>The caller's originate was lost with the link and its leg is not there: the call never happened.</summary>
    private const string LinkLost = "freeswitch link lost";

    private void FailUnconfirmedStart()
    {
        _a.Unconfirmed = false;
        Fail(LinkLost);
        Settle(false);
    }

    private bool _aHangupPendingStart;
    private string _hangupCause = "NORMAL_CLEARING";

    private static string Describe(EslMessage reply) => reply switch
    {
        CommandReply c => c.ReplyText.Trim(),
        ApiResponse a => a.BodyText.Trim(),
        _ => reply.ToString() ?? "error",
    };

    /// <summary>The call was never attempted: publish a failure, and end.</summary>
    private void Fail(string cause)
    {
        if (_failed) return;
        _failed = true;
        _a.Dialled = false;
        var lost = cause == LinkLost;
        _ctx.Metrics.JobsFailed.WithLabels(lost ? LinkLost : "refused").Inc();
        Log(LogLevel.Warning, lost ? "FreeSWITCH never confirmed the call: {Cause}" : "FreeSWITCH refused the call: {Cause}", cause);
        PublishEvent(Json.JobFailure(cause));
        foreach (var h in TakeHangupsBeforeStart()) Refuse("hangup", "call ended", h.Id);
        EndCall("failed");
    }

    private void OnCallerJob(EslEvent evt)
    {
        lock (_gate)
        {
            if (_ended) return;
            var body = evt.EventBodyText?.Trim() ?? "";
            // Its result proves FreeSWITCH took the command, even when the reply was lost with the link.
            if (_a.Unconfirmed) ConfirmStart();
            if (body.StartsWith("+OK", StringComparison.Ordinal))
            {
                AnswerLeg(_a);
                // FreeSWITCH now runs the socket app; if its connection never reaches us (refused, network), the
                // leg would sit parked with nobody in control: give it a bounded time, then hang it up.
                if (_socket is null && !_ended) StartConnectTimer();
                return;
            }
            var cause = HangupCauses.FromErrorReply(body);
            if (cause is not null)
            {
                _a.Complete = true;
                HangupLeg(_a, cause);
            }
            else if (!_a.AnswerPublished && !_a.HangupPublished)
            {
                Fail(body.Length > 0 ? body : "originate failed");
            }
        }
    }

    private Timer? _connectTimer;
    private bool _socketLate;
    /// <summary>The caller's socket came (and may have gone since): no connect timer from then on.</summary>
    private bool _socketSeen;

    /// <summary>The socket normally follows the caller's answer within milliseconds; after this, it is late.</summary>
    private TimeSpan SocketLateAfter => TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(1).Ticks, _ctx.Options.SocketConnectTimeout.Ticks / 2));

    private void StartConnectTimer()
    {
        if (!_socketSeen) _connectTimer ??= new Timer(_ => OnConnectTimer(), null, SocketLateAfter, Timeout.InfiniteTimeSpan);
    }

    /// <summary>
    /// First when the socket is late: from then on the control link reports the caller's end (a caller who hung up
    /// meanwhile is found by uuid_exists). Following only late legs keeps the link quiet for the normal call. Then,
    /// at SocketConnectTimeout, the leg is hung up: nobody controls it.
    /// </summary>
    private void OnConnectTimer()
    {
        lock (_gate)
        {
            if (_connectTimer is null) return;
            if (_socket is not null || _ended || !_a.Alive || _aHangupSent)
            {
                _connectTimer.Dispose();
                _connectTimer = null;
                return;
            }
            if (!_socketLate)
            {
                _socketLate = true;
                Log(LogLevel.Warning, "the caller's leg has not connected to the outbound server yet; following it through the control link");
                Follow(_a);
                CheckExists(_a);
                _connectTimer.Change(_ctx.Options.SocketConnectTimeout - SocketLateAfter, Timeout.InfiniteTimeSpan);
                return;
            }
            _connectTimer.Dispose();
            _connectTimer = null;
            Log(LogLevel.Warning, "the caller's leg never connected to the outbound server; hanging it up");
            HangupCaller("NORMAL_CLEARING");
        }
    }

    // ------------------------------------------------------------------ outbound socket

    public void OnSocketConnected(EslSession session, CommandReply connectReply)
    {
        lock (_gate)
        {
            if (_socket is not null || _ended)
            {
                Log(LogLevel.Warning, "second outbound connection for the call; closing it");
                session.TrySend(EslCommands.Exit(), _ => session.Close());
                return;
            }
            _socket = session;
            _socketSeen = true;
            session.Tag = this;
            _connectTimer?.Dispose();
            _connectTimer = null;
            _ctx.Metrics.OutboundSessionsOpen.Inc();
            // One flush for the whole set-up (the bridge below, or the hangup, flushes).
            session.TrySend(EslCommands.Linger(30), null, flush: false);
            session.TrySend(EslCommands.Event(EslEventFormat.Plain, SocketEvents), null, flush: false);
            session.TrySend(EslCommands.Filter("Unique-ID", _a.Uuid), null, flush: false);
            session.TrySend(EslCommands.Filter("Unique-ID", _b.Uuid), null, flush: false);
            session.TrySend(EslCommands.Filter("Unique-ID", _nextBargeUuid), null, flush: false);
            if (_g is { Alive: true }) session.TrySend(EslCommands.Filter("Unique-ID", _g.Uuid), null, flush: false);
            // The socket now carries the caller's events; the control link no longer needs to.
            Unfollow(_a);
            // The caller's leg runs our socket app: FreeSWITCH took the originate, whether its reply was lost or is
            // only late (a stalled link).
            if (!_callStarted) ConfirmStart();
            _a.Seen = true;
            AnswerLeg(_a);
            if (_hangupRequested)
            {
                _aHangupSent = true;
                _aHangupPendingStart = false;
                var pending = TakeHangupsBeforeStart();
                var sent = session.TrySend(EslCommands.SendMsgHangup(null, _hangupCause), r =>
                {
                    lock (_gate)
                        foreach (var h in pending)
                            if (r is CommandReply { IsOk: true }) Ack("hangup", h.Id, h.Received);
                            else Refuse("hangup", "freeswitch unavailable", h.Id);
                });
                if (!sent) foreach (var h in pending) Refuse("hangup", "freeswitch unavailable", h.Id);
                return;
            }
            _b.Dialled = true;
            Log(LogLevel.Debug, "caller answered; bridging callee {Number} (leg {Uuid})", FieldRules.Mask(Job.CalleeNumber, _ctx.Options.LogPhoneNumbers), _b.Uuid);
            session.TrySend(EslCommands.SendMsgExecute(null, "bridge", _ctx.DialStrings.BridgeCallee(Job, _b.Uuid)), r =>
            {
                if (r is CommandReply { IsError: true } err)
                    lock (_gate) Log(LogLevel.Warning, "bridge refused: {Reply}", err.ReplyText);
            });
        }
    }

    public void OnSocketEvent(EslEvent evt) => OnChannelEvent(evt, fromSocket: true);

    public void OnInboundEvent(EslEvent evt) => OnChannelEvent(evt, fromSocket: false);

    private void OnChannelEvent(EslEvent evt, bool fromSocket)
    {
        lock (_gate)
        {
            // While the socket is up it reports every leg (one filter per uuid), in order with the replies to
            // our commands; the control link's copy is only needed once the socket is gone.
            if (!fromSocket && SocketAlive) return;
            var leg = LegOf(evt.UniqueId);
            if (leg is null) return;
            if (leg.Unconfirmed) Confirm(leg);
            switch (evt.EventName)
            {
                case "CHANNEL_CREATE":
                case "CHANNEL_PROGRESS":
                case "CHANNEL_PROGRESS_MEDIA":
                case "CHANNEL_EXECUTE":
                case "CHANNEL_BRIDGE":
                case "CHANNEL_UNBRIDGE":
                    leg.Seen = true;
                    break;
                case "CHANNEL_ANSWER":
                    leg.Seen = true;
                    AnswerLeg(leg);
                    // Seen on the control link only when the originate's +OK was lost: the socket must still come.
                    if (leg == _a && _socket is null && !_ended) StartConnectTimer();
                    break;
                case "CHANNEL_HANGUP":
                    leg.Seen = true;
                    HangupLeg(leg, evt["Hangup-Cause"] ?? "NORMAL_UNSPECIFIED");
                    break;
                case "CHANNEL_HANGUP_COMPLETE":
                    leg.Seen = true;
                    if (leg == _a) _aFailedCause ??= evt["variable_originate_failed_cause"];
                    leg.Complete = true;
                    Unfollow(leg);
                    if (!leg.HangupPublished)
                    {
                        // Followed through the control link, which has no CHANNEL_ANSWER from before it followed:
                        // an answered leg still gets its answer-event first.
                        if (!fromSocket && evt["Caller-Channel-Answered-Time"] is { } t && t != "0") AnswerLeg(leg);
                        HangupLeg(leg, evt["Hangup-Cause"] ?? "NORMAL_UNSPECIFIED");
                    }
                    else CheckDone();
                    break;
                case "CHANNEL_EXECUTE_COMPLETE":
                    leg.Seen = true;
                    if (leg == _a && evt["Application"] == "bridge") OnBridgeEnded(evt);
                    break;
                case "DTMF":
                    // Our own uuid_recv_dtmf comes back as DTMF-Source APP (its ack counted it); the rest is the keypad.
                    if (leg == _g && evt["DTMF-Source"] != "APP" && evt["DTMF-Digit"] is [var digit and >= '0' and <= '9']) _mode.Pressed(digit - '0');
                    break;
            }
        }
    }

    /// <summary>The A-leg's bridge returned: the callee is gone (or never came); end the caller's leg too.</summary>
    private void OnBridgeEnded(EslEvent evt)
    {
        _aFailedCause ??= evt["variable_originate_failed_cause"];
        if (_b.Dialled && !_b.Seen && !_b.HangupPublished)
        {
            // The callee's channel never appeared: report the cause the bridge failed with.
            HangupLeg(_b, _aFailedCause ?? evt["Hangup-Cause"] ?? "NORMAL_UNSPECIFIED");
        }
        if (!_a.HangupPublished && !_aHangupSent)
            HangupCaller(_b.Cause ?? _aFailedCause ?? "NORMAL_CLEARING");
    }

    public void OnSocketClosed(EslSession session)
    {
        lock (_gate)
        {
            if (!ReferenceEquals(session, _socket)) return;
            _ctx.Metrics.OutboundSessionsOpen.Dec();
            _lingerTimer?.Dispose();
            _lingerTimer = null;
            var dropped = !_exitSent && !AllHungUp();
            if (dropped)
                Log(LogLevel.Warning, "outbound socket dropped; following the legs through the control link");
            _socket = null;
            if (dropped)
            {
                // From now on the control link carries the legs' events; a leg that ended while its events were
                // only on the socket would never be reported otherwise.
                foreach (var leg in new[] { _a, _b, _g })
                    if (leg is { Alive: true }) FollowAndCheck(leg);
            }
            if (AllHungUp()) SynthesizeMissing("NORMAL_UNSPECIFIED");
            CheckDone();
        }
    }

    private bool SocketAlive => _socket is { IsOpen: true } && !_exitSent;

    // ------------------------------------------------------------------ answers and hangups

    private Leg? LegOf(string? uuid)
    {
        if (uuid is null) return null;
        if (string.Equals(uuid, _a.Uuid, StringComparison.OrdinalIgnoreCase)) return _a;
        if (string.Equals(uuid, _b.Uuid, StringComparison.OrdinalIgnoreCase)) return _b;
        if (_g is not null && string.Equals(uuid, _g.Uuid, StringComparison.OrdinalIgnoreCase)) return _g;
        foreach (var p in _pastBarges)
            if (string.Equals(uuid, p.Uuid, StringComparison.OrdinalIgnoreCase)) return p;
        return null;
    }

    private void AnswerLeg(Leg leg)
    {
        if (!leg.Dialled || leg.AnswerPublished || leg.HangupPublished) return;
        if (!leg.Ready)
        {
            leg.PendingAnswer = true;
            return;
        }
        leg.AnswerPublished = true;
        _ctx.Publisher.SideEvent(DialId, Job.OrgId, Job.UserId, leg.Side, active: true, Json.Answer(leg.Side));
        if (leg == _g) ApplyPendingModes();
    }

    private void HangupLeg(Leg leg, string cause)
    {
        if (!leg.Dialled || leg.HangupPublished) return;
        if (!leg.Ready)
        {
            // The leg's events overtook the reply to its originate (they travel on another connection):
            // call-start or the barge ack is published first.
            leg.PendingHangup ??= cause;
            return;
        }
        leg.HangupPublished = true;
        leg.Cause = cause;
        if (leg.AnswerPublished) _ctx.Publisher.SideEvent(DialId, Job.OrgId, Job.UserId, leg.Side, active: false, Json.Hangup(leg.Side, cause));
        else PublishEvent(Json.Hangup(leg.Side, cause));
        _ctx.Metrics.HangupsByCause.WithLabels(leg.Side.ToString(), cause).Inc();
        _ctx.Registry.RemoveUuid(leg.Uuid);

        if (leg == _g)
        {
            FailPendingModes("barge leg ended");
            _pastBarges.Add(leg);
            _g = null;
        }
        if (leg == _b && !_a.HangupPublished && _a.AnswerPublished && !_aHangupSent)
        {
            // The callee is gone: FreeSWITCH leaves the caller parked in the socket (SPEC §7).
            HangupCaller(cause);
        }
        if (leg == _a)
        {
            if (_g is { Alive: true, KillSent: false }) Kill(_g, "NORMAL_CLEARING", null);
            if (!_b.Seen && _b.Dialled && !_b.HangupPublished && _a.Complete)
                HangupLeg(_b, _aFailedCause ?? cause);
        }
        CheckDone();
    }

    /// <summary>The originate of this leg was accepted: publish what waited for it.</summary>
    private void MakeReady(Leg leg)
    {
        leg.Ready = true;
        if (leg.PendingAnswer) AnswerLeg(leg);
        if (leg.PendingHangup is { } cause) HangupLeg(leg, cause);
    }

    private void HangupCaller(string cause)
    {
        _aHangupSent = true;
        if (SocketAlive) _socket!.TrySend(EslCommands.SendMsgHangup(null, cause));
        else
        {
            Follow(_a);
            var sent = _link.TryApi($"uuid_kill {_a.Uuid} {cause}", r =>
            {
                if (IsNoSuchChannel(r)) lock (_gate) ReportGone(_a);
            });
            // Nothing went out (the link is down): a later attempt, or the link's return, must still be able to.
            if (!sent) _aHangupSent = false;
        }
    }

    private static bool IsNoSuchChannel(EslMessage? r) =>
        r is ApiResponse a && a.BodyText.Contains("No such channel", StringComparison.OrdinalIgnoreCase);

    /// <summary>The control link delivers this leg's events from now on (SPEC §4: legs whose socket dropped).</summary>
    private void Follow(Leg leg)
    {
        if (leg.Followed || _ended) return;
        leg.Followed = true;
        _link.Follow(leg.Uuid);
    }

    private void Unfollow(Leg leg)
    {
        if (!leg.Followed) return;
        leg.Followed = false;
        _link.Unfollow(leg.Uuid);
    }

    /// <summary>
    /// The control link takes over a leg's events; one that ended before is found with <c>uuid_exists</c> (asked after
    /// following, so nothing falls between). A callee not seen yet is not asked: the bridge may still bring it.
    /// </summary>
    private void FollowAndCheck(Leg leg)
    {
        Follow(leg);
        if (leg != _b || _b.Seen) CheckExists(leg);
    }

    /// <summary><c>uuid_exists</c> on a followed leg: a leg already gone is reported (its events went elsewhere).</summary>
    private void CheckExists(Leg leg)
    {
        _link.TryApi($"uuid_exists {leg.Uuid}", r =>
        {
            if (r is ApiResponse resp && resp.BodyText.Trim() == "false")
                lock (_gate) ReportGone(leg);
        });
    }

    /// <summary>
    /// FreeSWITCH says the leg does not exist. Its CHANNEL_HANGUP_COMPLETE may still be on its way (events and
    /// replies are written by different paths): give it a moment to bring the real cause, then report
    /// NORMAL_UNSPECIFIED (SPEC §4).
    /// </summary>
    private void ReportGone(Leg leg)
    {
        if (leg.HangupPublished || _ended) return;
        AfterGrace(() =>
        {
            if (leg.HangupPublished || _ended) return;
            leg.Complete = true;
            Unfollow(leg);
            HangupLeg(leg, "NORMAL_UNSPECIFIED");
        });
    }

    /// <summary>Runs <paramref name="action"/> under the lock after <see cref="GoneGrace"/>.</summary>
    private void AfterGrace(Action action)
    {
        Timer? t = null;
        t = new Timer(_ =>
        {
            t?.Dispose();
            lock (_gate) action();
        }, null, GoneGrace, Timeout.InfiniteTimeSpan);
    }

    private static readonly TimeSpan GoneGrace = TimeSpan.FromMilliseconds(300);

    private bool AllHungUp()
    {
        if (_a.Dialled && !_a.HangupPublished) return false;
        if (_b.Dialled && !_b.HangupPublished) return false;
        if (_g is { Alive: true }) return false;
        return true;
    }

    /// <summary>Legs dialled but never reported (their channel never appeared) end with the best cause we have.</summary>
    private void SynthesizeMissing(string fallback)
    {
        foreach (var leg in new[] { _a, _b, _g })
            if (leg is { Alive: true }) HangupLeg(leg, leg == _b ? _aFailedCause ?? _a.Cause ?? fallback : fallback);
    }

    private void CheckDone()
    {
        if (!AllHungUp())
        {
            // The caller's channel is completely gone: a callee that never appeared never will.
            if (_a.Complete && _b.Dialled && !_b.Seen && !_b.HangupPublished) HangupLeg(_b, _aFailedCause ?? _a.Cause ?? "NORMAL_UNSPECIFIED");
            return;
        }
        if (_socket is not null && !_exitSent)
        {
            var allComplete = _a.Complete && (!_b.Seen || _b.Complete) && _pastBarges.All(l => !l.Seen || l.Complete);
            if (allComplete) SendExit();
            else _lingerTimer ??= new Timer(_ => { lock (_gate) SendExit(); }, null, _ctx.Options.SocketLinger, Timeout.InfiniteTimeSpan);
        }
        EndCall("completed");
    }

    private void SendExit()
    {
        if (_exitSent || _socket is null) return;
        _exitSent = true;
        var s = _socket;
        if (!s.TrySend(EslCommands.Exit(), _ => s.Close())) s.Close();
    }

    private void EndCall(string result)
    {
        if (_ended) return;
        _ended = true;
        _connectTimer?.Dispose();
        _connectTimer = null;
        _ctx.Registry.MarkEnded();
        Interlocked.Decrement(ref _link.LiveCalls);
        _ctx.Metrics.CallsByResult.WithLabels(CallResult(result)).Inc();
        foreach (var leg in new[] { _a, _b, _g }.Concat(_pastBarges))
        {
            if (leg is null) continue;
            _ctx.Registry.RemoveUuid(leg.Uuid);
            Unfollow(leg);
        }
        _ctx.Registry.RemoveUuid(_nextBargeUuid);
        foreach (var job in _jobIds) _link.ForgetJob(job);
        _jobIds.Clear();
        foreach (var leg in new[] { _a, _g }) leg?.StopDeadline();
        foreach (var h in TakeHangupsBeforeStart()) Refuse("hangup", "call ended", h.Id);
        FailPendingModes("call ended");
        if (_callStarted) _ctx.Publisher.DeleteState(DialId);
        Log(LogLevel.Information, "call ended ({Result}): {Sides}", CallResult(result), SidesSummary());
        _unsubscribeTimer = new Timer(_ => Release(), null, _ctx.Options.EndedLinger, Timeout.InfiniteTimeSpan);
        _endedTcs.TrySetResult();
    }

    private string SidesSummary()
    {
        var sb = new System.Text.StringBuilder();
        foreach (var leg in new[] { _a, _b }.Concat(_pastBarges))
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

    private void Release()
    {
        _unsubscribeTimer?.Dispose();
        _ctx.Registry.Remove(this);
        var unsub = Unsubscribe;
        if (unsub is not null) _ = unsub();
    }

    // ------------------------------------------------------------------ link loss

    /// <summary>The control link came back: legs we could not follow meanwhile are checked (SPEC §4).</summary>
    public void OnLinkRestored(bool freeswitchRestarted)
    {
        lock (_gate)
        {
            if (_ended) return;
            // A caller whose socket never came, and whose hang-up could not go out while the link was down.
            if (!freeswitchRestarted && _socketLate && _connectTimer is null && _socket is null && _a.Alive && !_aHangupSent && !_a.Unconfirmed)
                HangupCaller("NORMAL_CLEARING");
            // Originates whose reply was lost with the link: a restarted FreeSWITCH has none of them; otherwise
            // the leg's existence says whether it took the command.
            foreach (var leg in new[] { _a, _g })
            {
                if (leg is not { Unconfirmed: true }) continue;
                if (freeswitchRestarted) { Unconfirmable(leg); continue; }
                if (!SocketAlive || leg == _a) Follow(leg);
                var l = leg;
                _link.TryApi($"uuid_exists {l.Uuid}", r =>
                {
                    lock (_gate)
                    {
                        if (!l.Unconfirmed || r is not ApiResponse resp) return;
                        if (resp.BodyText.Trim() == "true") Confirm(l);
                        else AfterGrace(() => Unconfirmable(l)); // its last event may still be on its way
                    }
                });
            }
            foreach (var leg in new[] { _a, _b, _g })
            {
                if (leg is not { Alive: true, Unconfirmed: false } || SocketAlive) continue;
                if (freeswitchRestarted) { HangupLeg(leg, "SYSTEM_SHUTDOWN"); continue; }
                // The filters were put back before this runs (InboundLink.Subscribe); legs not followed yet are now.
                FollowAndCheck(leg);
            }
        }
    }

    /// <summary>FreeSWITCH took this leg's originate after all (an event of it, its BACKGROUND_JOB, uuid_exists).</summary>
    private void Confirm(Leg leg)
    {
        if (!leg.Unconfirmed) return;
        if (leg == _a)
        {
            ConfirmStart();
            return;
        }
        leg.Unconfirmed = false;
        leg.StopDeadline();
        if (leg.Request is { } req) Ack(req.Type, req.Id, req.Received);
        leg.Request = null;
        Log(LogLevel.Information, "FreeSWITCH had the barge leg {Uuid} after all", leg.Uuid);
        MakeReady(leg);
    }

    /// <summary>The originate was lost with the link and the leg is not there: as if it had been refused.</summary>
    private void Unconfirmable(Leg leg)
    {
        if (!leg.Unconfirmed) return;
        leg.StopDeadline();
        Unfollow(leg);
        if (leg == _a)
        {
            FailUnconfirmedStart();
            return;
        }
        leg.Unconfirmed = false;
        DropBarge(leg, "freeswitch unavailable");
    }

    /// <summary>A barge leg FreeSWITCH never took: its message gets its failure, and a new barge may follow.</summary>
    private void DropBarge(Leg leg, string cause)
    {
        leg.Dialled = false;
        leg.StopDeadline();
        if (_g == leg) _g = null;
        Unfollow(leg);
        _ctx.Registry.RemoveUuid(leg.Uuid); // or the registry pins this owner for ever
        FailPendingModes("barge refused");
        if (leg.Request is { } req) Refuse("barge", cause, req.Id);
        leg.Request = null;
        CheckDone();
    }

    // ------------------------------------------------------------------ control messages

    public void OnControl(string payload)
    {
        var received = Stopwatch.GetTimestamp();
        string type;
        string? id = null;
        string? phone = null, callerId = null;
        bool phoneBad = false, callerIdBad = false;
        try
        {
            using var doc = JsonDocument.Parse(payload, new JsonDocumentOptions { AllowTrailingCommas = true, MaxDepth = 16 });
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                Reply(Json.ControlFailure("unknown", "invalid json", null), "unknown", "invalid");
                return;
            }
            if (root.TryGetProperty("id", out var idEl)) id = idEl.GetRawText();
            if (!root.TryGetProperty("type", out var typeEl) || typeEl.ValueKind != JsonValueKind.String)
            {
                Reply(Json.ControlFailure("unknown", "missing type", id), "unknown", "invalid");
                return;
            }
            type = typeEl.GetString()!;
            if (OwnTypes.Contains(type)) return; // our own publications come back on the channel
            if (root.TryGetProperty("phone_number", out var p))
            {
                if (p.ValueKind == JsonValueKind.String) phone = p.GetString();
                else if (p.ValueKind == JsonValueKind.Number && p.GetRawText().All(char.IsAsciiDigit)) phone = p.GetRawText();
                else phoneBad = true;
            }
            if (root.TryGetProperty("caller_id", out var c))
            {
                if (c.ValueKind == JsonValueKind.String) callerId = c.GetString();
                else if (c.ValueKind == JsonValueKind.Number && c.GetRawText().All(char.IsAsciiDigit)) callerId = c.GetRawText();
                else callerIdBad = true;
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: an escaped lone surrogate, valid JSON but no string
            Reply(Json.ControlFailure("unknown", "invalid json", null), "unknown", "invalid");
            return;
        }

        lock (_gate)
        {
            if (_ended || _failed || AllHungUp() && _a.HangupPublished)
            {
                Refuse(type, "call ended", id);
                return;
            }
            switch (type)
            {
                case "hangup":
                    DoHangup(id, received);
                    break;
                case "barge":
                    if (phone is null && !phoneBad) Refuse(type, "missing phone_number", id);
                    else if (phoneBad || !FieldRules.IsPhoneNumber(phone)) Refuse(type, "invalid phone_number", id);
                    else if (callerIdBad || callerId is not null && !FieldRules.IsCallerId(callerId)) Refuse(type, "invalid caller_id", id);
                    else DoBarge(phone!, callerId ?? Job.CallerIdLegA, id, received);
                    break;
                case "whisper":
                    SetMode(type, id, 2, received);
                    break;
                case "mute":
                    SetMode(type, id, 0, received);
                    break;
                case "threeway":
                    SetMode(type, id, 3, received);
                    break;
                case "unthreeway":
                    SetMode(type, id, -1, received);
                    break;
                default:
                    Refuse(type, "unknown type", id);
                    break;
            }
        }
    }

    private void Refuse(string type, string cause, string? id)
    {
        Reply(Json.ControlFailure(type, cause, id), type, "failure");
        Log(LogLevel.Information, "control {Type} refused: {Cause}", type, cause);
    }

    private void Ack(string type, string? id, long received)
    {
        _ctx.Metrics.ControlLatency.Observe(Stopwatch.GetElapsedTime(received).TotalSeconds);
        Reply(Json.Ack(type, id), type, "ack");
    }

    private void Reply(string json, string type, string result)
    {
        _ctx.Metrics.ControlMessages.WithLabels(KnownType(type), result).Inc();
        _ctx.Publisher.Reply(DialId, json);
    }

    private static string KnownType(string type) =>
        type is "hangup" or "barge" or "whisper" or "mute" or "threeway" or "unthreeway" ? type : "other";

    private void DoHangup(string? id, long received)
    {
        _hangupRequested = true;
        if (!_callStarted)
        {
            // FreeSWITCH has not taken the originate yet: the legs are killed once it has, and that answers this.
            _aHangupPendingStart = true;
            _hangupCause = "NORMAL_CLEARING";
            _hangupsBeforeStart.Add((id, received));
            return;
        }
        KillLegs("NORMAL_CLEARING", () => Ack("hangup", id, received), () => Refuse("hangup", "freeswitch unavailable", id));
    }

    /// <summary>Hangs up every live leg: answered ones with <paramref name="answeredCause"/>, ringing ones with ORIGINATOR_CANCEL.</summary>
    private void KillLegs(string answeredCause, Action? onAccepted, Action? onUnavailable = null, string ringingCause = "ORIGINATOR_CANCEL")
    {
        // The first reply from FreeSWITCH acknowledges (so the ack precedes the hangup-events that follow
        // it on the same connection); a failure only when no command could be carried at all.
        var pending = 1;
        var legs = 0;
        var answered = false;
        void Done(bool ok)
        {
            if (ok && !answered)
            {
                answered = true;
                onAccepted?.Invoke();
            }
            if (--pending == 0 && !answered)
            {
                answered = true;
                if (onUnavailable is not null) onUnavailable();
                else onAccepted?.Invoke();
            }
        }
        // The barger first (its eavesdrop would otherwise end with the caller), then the caller, whose cause
        // FreeSWITCH hands to the bridged callee, then the callee.
        if (_g is { Alive: true })
        {
            pending++;
            legs++;
            if (!Kill(_g, _g.AnswerPublished ? answeredCause : ringingCause, ok => Done(ok))) Done(false);
        }
        if (_a.Alive)
        {
            pending++;
            legs++;
            _aHangupSent = true;
            _a.KillSent = true;
            // uuid_kill, not a queued sendmsg hangup: it acts at once, before the callee's kill can end the
            // bridge and let hangup_after_bridge hang the caller up with NORMAL_CLEARING.
            var cause = _a.AnswerPublished ? answeredCause : ringingCause;
            if (!SendApi($"uuid_kill {_a.Uuid} {cause}", r => { lock (_gate) Done(r is not null); }))
            {
                // Nothing went out: a later attempt must still be able to hang the caller up.
                _aHangupSent = false;
                _a.KillSent = false;
                Done(false);
            }
        }
        if (_b is { Alive: true, Seen: true })
        {
            pending++;
            legs++;
            if (!Kill(_b, _b.AnswerPublished ? answeredCause : ringingCause, ok => Done(ok))) Done(false);
        }
        // Only when no leg was alive is there nothing to do; legs whose command could not be sent
        // end in the failure below, not in an ack.
        if (legs == 0 && !answered)
        {
            // nothing left to hang up
            answered = true;
            pending = 0;
            onAccepted?.Invoke();
            return;
        }
        Done(false);
    }

    private bool Kill(Leg leg, string cause, Action<bool>? done)
    {
        leg.KillSent = true;
        return SendApi($"uuid_kill {leg.Uuid} {cause}", r =>
        {
            lock (_gate)
            {
                // A barge leg whose originate reply was lost, and which FreeSWITCH does not know: it never rang.
                if (leg.Unconfirmed && IsNoSuchChannel(r)) AfterGrace(() => Unconfirmable(leg));
                done?.Invoke(r is not null);
            }
        });
    }

    /// <summary>An API command on the call's socket when it is up, else on the control link.</summary>
    private bool SendApi(string command, Action<EslMessage?> onReply)
    {
        if (SocketAlive && _socket!.TrySend(EslCommands.Api(command), onReply)) return true;
        return _link.TryApi(command, onReply);
    }

    private void DoBarge(string phone, string callerId, string? id, long received)
    {
        if (_g is { Alive: true })
        {
            Refuse("barge", "barge already active", id);
            return;
        }
        if (!_a.AnswerPublished || _a.HangupPublished || _hangupRequested)
        {
            Refuse("barge", "call not answered", id);
            return;
        }
        var leg = new Leg(2, _nextBargeUuid) { Dialled = true, Ready = false };
        _g = leg;
        _mode.Reset();
        _nextBargeUuid = Guid.NewGuid().ToString();
        _ctx.Registry.AddUuid(leg.Uuid, this);
        _ctx.Registry.AddUuid(_nextBargeUuid, this);
        _ctx.Publisher.SaveState(DialId, ("uuid_2", leg.Uuid), ("barge_next", _nextBargeUuid));
        leg.Request = new PendingMode("barge", id, null, received);
        if (SocketAlive) _socket!.TrySend(EslCommands.Filter("Unique-ID", _nextBargeUuid));
        else Follow(leg); // no socket to carry its events
        Log(LogLevel.Information, "barging {Number} (leg {Uuid})", FieldRules.Mask(phone, _ctx.Options.LogPhoneNumbers), leg.Uuid);
        var cmd = _ctx.DialStrings.OriginateBarger(Job, leg.Uuid, phone, callerId, _a.Uuid);
        var bargeJob = Guid.NewGuid().ToString();
        _jobIds.Add(bargeJob);
        _sentGeneration = _link.Generation;
        var sent = _link.TryBgApi(cmd, bargeJob, reply =>
        {
            lock (_gate)
            {
                if (leg.Request is null) return; // settled meanwhile (its events came first, or the call ended)
                if (reply is CommandReply { IsOk: true })
                {
                    Ack("barge", id, received);
                    leg.Request = null;
                    MakeReady(leg);
                }
                else if (reply is null && !_ended)
                {
                    // Lost with the link: FreeSWITCH may be ringing the barger. Its events, its BACKGROUND_JOB or
                    // uuid_exists once the link is back decide; meanwhile a second barge is refused.
                    leg.Unconfirmed = true;
                    Log(LogLevel.Warning, "control link lost before FreeSWITCH answered the barge originate; checking leg {Uuid} once it is back", leg.Uuid);
                    AwaitConfirmation(leg);
                }
                else
                {
                    DropBarge(leg, reply is null ? "freeswitch unavailable" : Describe(reply));
                }
            }
        }, evt =>
        {
            lock (_gate)
            {
                if (leg.Unconfirmed) Confirm(leg);
                var body = evt.EventBodyText?.Trim() ?? "";
                if (body.StartsWith("+OK", StringComparison.Ordinal)) AnswerLeg(leg);
                else HangupLeg(leg, HangupCauses.FromErrorReply(body) ?? "NORMAL_UNSPECIFIED");
            }
        });
        if (!sent)
        {
            leg.Request = null;
            leg.Dialled = false;
            _g = null;
            Unfollow(leg);
            _ctx.Registry.RemoveUuid(leg.Uuid);
            Refuse("barge", "freeswitch unavailable", id);
        }
    }

    /// <summary>whisper = 2, mute = 0, threeway = 3, unthreeway (-1) = the mode before threeway (SPEC §5).</summary>
    private void SetMode(string type, string? id, int digit, long received)
    {
        if (_g is not { Alive: true })
        {
            Refuse(type, "no barge leg", id);
            return;
        }
        // Planned now so that a message right behind this one sees it; a refusal takes it out again.
        var change = _mode.Plan(digit);
        if (change is null)
        {
            Refuse(type, "not in threeway", id);
            return;
        }
        var pm = new PendingMode(type, id, change, received);
        if (!_g.AnswerPublished) _pendingModes.Add(pm); // applied when the barger answers
        else SendMode(_g, pm);
    }

    private void SendMode(Leg leg, PendingMode pm)
    {
        var sent = SendApi($"uuid_recv_dtmf {leg.Uuid} {_mode.Send(pm.Change!)}", r =>
        {
            lock (_gate)
            {
                if (r is ApiResponse { IsOk: true })
                {
                    _mode.Accepted(pm.Change!);
                    Ack(pm.Type, pm.Id, pm.Received);
                }
                else RefuseMode(pm, r is null ? "freeswitch unavailable" : Describe(r));
            }
        });
        if (!sent) RefuseMode(pm, "freeswitch unavailable");
    }

    /// <summary>A mode change FreeSWITCH did not take changes nothing (SPEC §5).</summary>
    private void RefuseMode(PendingMode pm, string cause)
    {
        if (pm.Change is not null) _mode.Refused(pm.Change);
        Refuse(pm.Type, cause, pm.Id);
    }

    private void ApplyPendingModes()
    {
        if (_g is null) return;
        var list = _pendingModes.ToArray();
        _pendingModes.Clear();
        foreach (var pm in list) SendMode(_g, pm);
    }

    private void FailPendingModes(string cause)
    {
        var list = _pendingModes.ToArray();
        _pendingModes.Clear();
        foreach (var pm in list) RefuseMode(pm, cause);
    }

    // ------------------------------------------------------------------ drain

    /// <summary>Hangs up whatever is left (graceful stop after DRAIN_TIMEOUT), with MANAGER_REQUEST.</summary>
    public void HangupForShutdown()
    {
        lock (_gate)
        {
            if (_ended) return;
            _hangupRequested = true;
            _hangupCause = "MANAGER_REQUEST";
            if (!_callStarted)
            {
                // Not taken yet: killed once it is; one whose reply was lost is checked now if the link is up.
                _aHangupPendingStart = true;
                if (_a.Unconfirmed && _link.IsUp) OnLinkRestored(false);
                return;
            }
            // SPEC §8: what is left at the end of a drain is hung up with MANAGER_REQUEST, ringing or not.
            KillLegs("MANAGER_REQUEST", null, ringingCause: "MANAGER_REQUEST");
        }
    }

    /// <summary>Nothing was sent (the link dropped before the originate): forget the call without publishing.</summary>
    public void ForceEndSilently()
    {
        lock (_gate)
        {
            if (_ended) return;
            _ended = true;
            _ctx.Registry.MarkEnded();
            _endedTcs.TrySetResult();
        }
    }

    /// <summary>Last resort when FreeSWITCH cannot be reached at exit: every side still ends in Redis.</summary>
    public void ForceEnd(string cause)
    {
        lock (_gate)
        {
            if (_ended) return;
            if (!_callStarted)
            {
                // FreeSWITCH never confirmed the originate (reply lost or still outstanding): the call fails and the
                // job is kept in the dead-letter list.
                _a.Unconfirmed = true;
                FailUnconfirmedStart();
                return;
            }
            // A barge whose originate FreeSWITCH never confirmed (reply lost or still outstanding).
            if (_g is { Ready: false, HangupPublished: false } g)
            {
                g.Unconfirmed = false;
                DropBarge(g, "freeswitch unavailable");
            }
            foreach (var leg in new[] { _g, _b, _a })
                if (leg is { Alive: true }) HangupLeg(leg, cause);
            EndCall("completed");
        }
    }

    /// <summary>Closes the outbound socket as a crash or network fault would (tests).</summary>
    internal void DropSocketForTest()
    {
        EslSession? s;
        lock (_gate) s = _socket;
        s?.Close();
    }

    // ------------------------------------------------------------------ helpers

    private void PublishEvent(string json) => _ctx.Publisher.Event(DialId, Job.OrgId, Job.UserId, json);

    private void Log(LogLevel level, string message, params object?[] args)
    {
        if (!_ctx.Logger.IsEnabled(level)) return;
        using (_ctx.Logger.BeginScope(_scope))
            _ctx.Logger.Log(level, message, args);
    }
}
