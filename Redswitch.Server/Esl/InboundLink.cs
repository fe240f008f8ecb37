using System.Collections.Concurrent;
using System.Diagnostics;
using DotNetty.Transport.Bootstrapping;
using DotNetty.Transport.Channels;
using DotNetty.Transport.Channels.Sockets;
using Microsoft.Extensions.Logging;
using Redswitch.Protocol;
using Redswitch.Protocol.Framing;
using Redswitch.Protocol.Messages;
using Redswitch.Server.Configuration;
using Redswitch.Server.Metrics;

namespace Redswitch.Server.Esl;

/// <summary>
/// The inbound control link to one FreeSWITCH node (SPEC §7): auth, <c>event plain …</c> narrowed by filters
/// to BACKGROUND_JOB, HEARTBEAT and the legs call owners ask it to follow (<see cref="Follow"/>), <c>bgapi</c>
/// with Redswitch-chosen Job-UUIDs matched to their BACKGROUND_JOB, and capped exponential backoff with
/// jitter after a loss. A probe (<c>api uptime</c> with a reply deadline) whenever the node has been quiet tells a
/// stalled node within seconds: the link is then <see cref="LinkState.Stalled"/> — no new call, no command — but kept
/// open, since what the node already received still runs when it wakes; silence for LINK_SILENCE closes it.
/// </summary>
public sealed class InboundLink : IEslSessionListener, IControlLink, IAsyncDisposable
{
    private readonly EslNode _node;
    private readonly RedswitchOptions _options;
    private readonly IEventLoopGroup _group;
    private readonly RedswitchMetrics _metrics;
    private readonly ILogger _logger;
    private readonly IControlLinkListener _listener;
    private readonly ConcurrentDictionary<string, Action<EslEvent>> _jobs = new();
    /// <summary>Legs whose channel events this link must deliver (their socket is gone or never came); under _gate.</summary>
    private readonly HashSet<string> _followed = new(StringComparer.OrdinalIgnoreCase);
    /// <summary>The session whose filters mirror <see cref="_followed"/> (set once its filters are being sent); under _gate.</summary>
    private EslSession? _filtered;

    /// <summary>What the link subscribes to. Filters narrow the channel events to followed legs, so each instance
    /// does not decode every channel of the node. CHANNEL_CREATE tells a followed leg whose originate's fate is unknown the moment it exists (SPEC §4), also while it rings.</summary>
    private static readonly string[] Subscribed = ["BACKGROUND_JOB", "CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE", "DTMF", "HEARTBEAT"];
    private readonly CancellationTokenSource _stop = new();
    private readonly object _gate = new();
    private EslSession? _session;
    private volatile LinkState _state;

    /// <summary>Where the link is.</summary>
    public enum LinkState
    {
        /// <summary>Not connected, or connected and not yet authenticated and subscribed.</summary>
        Down,
        Up,
        /// <summary>Connected, but the node has not answered a probe in time: no new call, no command, until it does.</summary>
        Stalled,
    }

    public LinkState State => _state;
    private TaskCompletionSource _upSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _attempt;
    private Task? _loop;

    /// <summary>Completes when the current connection closes (the connect loop waits on it).</summary>
    private TaskCompletionSource? _closed;

    public EslNode Node => _node;

    /// <summary>The node's Core-UUID, read before the link counts as up: a take-over checks it is the node the call was placed on.</summary>
    public string? CoreUuid => Volatile.Read(ref _coreUuid);
    private string? _coreUuid;

    /// <summary>Counts authenticated connections: a call started on this generation needs no check after a loss before it.</summary>
    public int Generation => Volatile.Read(ref _generation);
    private int _generation;
    public bool IsUp => _state == LinkState.Up;

    /// <summary>Live calls placed on this node.</summary>
    public int LiveCalls => Volatile.Read(ref _liveCalls);
    private int _liveCalls;

    public void CallPlaced() => Interlocked.Increment(ref _liveCalls);

    public void CallEnded() => Interlocked.Decrement(ref _liveCalls);

    public InboundLink(EslNode node, RedswitchOptions options, IEventLoopGroup group, RedswitchMetrics metrics, ILogger logger, IControlLinkListener listener)
    {
        _listener = listener;
        _node = node;
        _options = options;
        _group = group;
        _metrics = metrics;
        _logger = logger;
        // A node never reached reads 0, not nothing: "no FreeSWITCH node up" must also see a link that never came up.
        metrics.EslLinksUp.WithLabels(node.ToString()).Set(0);
    }

    public Task WaitUpAsync(CancellationToken ct)
    {
        Task t;
        lock (_gate) t = _state == LinkState.Up ? Task.CompletedTask : _upSignal.Task;
        return t.WaitAsync(ct);
    }

    private Timer? _silenceTimer;

    public void Start()
    {
        _loop = Task.Run(RunAsync);
        var period = _options.ProbeInterval / 2;
        _silenceTimer = new Timer(_ => CheckSilence(), null, period, period);
    }

    private async Task RunAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var session = new EslSession(this, "inbound", _metrics, _logger);
            try
            {
                var bootstrap = new Bootstrap()
                    .Group(_group)
                    .Channel<TcpSocketChannel>()
                    .Option(ChannelOption.TcpNodelay, true)
                    .Option(ChannelOption.ConnectTimeout, TimeSpan.FromSeconds(5))
                    .Handler(new ActionChannelInitializer<ISocketChannel>(ch =>
                    {
                        ch.Pipeline.AddLast("decoder", new EslFrameDecoder());
                        ch.Pipeline.AddLast("encoder", new EslCommandEncoder());
                        ch.Pipeline.AddLast("session", session);
                        ch.Pipeline.AddLast("errors", new EslCodecErrorHandler(_logger));
                    }));
                lock (_gate)
                {
                    _session = session;
                    _closed = closed;
                }
                await bootstrap.ConnectAsync(_node.Host, _node.Port).ConfigureAwait(false);
                await closed.Task.WaitAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                lock (_gate) if (ReferenceEquals(_session, session)) _session = null;
                _logger.LogWarning("FreeSWITCH {Node}: cannot connect ({Reason})", _node, e.GetBaseException().Message);
            }
            if (_stop.IsCancellationRequested) break;
            var delay = Backoff(_attempt++);
            try { await Task.Delay(delay, _stop.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
        }
    }

    private TimeSpan Backoff(int attempt) => Backoff(attempt, _options.ReconnectBase, _options.ReconnectCap, Random.Shared);

    /// <summary>
    /// The wait before reconnect attempt <paramref name="attempt"/> (0 = the first): base·2^attempt capped, then a
    /// uniform draw from the upper half, so instances that lost the same node do not come back in step.
    /// </summary>
    internal static TimeSpan Backoff(int attempt, TimeSpan reconnectBase, TimeSpan cap, Random random)
    {
        var ceiling = Math.Min(reconnectBase.TotalMilliseconds * Math.Pow(2, Math.Clamp(attempt, 0, 30)), cap.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(ceiling * (0.5 + random.NextDouble() * 0.5));
    }

    public bool TryApi(string command, Action<EslMessage?> onReply)
    {
        EslSession? s;
        lock (_gate) s = _state == LinkState.Up ? _session : null;
        return s is not null && s.TrySend(EslCommands.Api(command), onReply);
    }

    /// <summary>Sends <c>bgapi</c> with our Job-UUID; <paramref name="onJob"/> gets its BACKGROUND_JOB (never when the link is lost first).</summary>
    public bool TryBgApi(string command, string jobUuid, Action<EslMessage?> onReply, Action<EslEvent> onJob)
    {
        EslSession? s;
        lock (_gate) s = _state == LinkState.Up ? _session : null;
        if (s is null) return false;
        _jobs[jobUuid] = onJob;
        if (s.TrySend(EslCommands.BgApi(command, jobUuid), onReply)) return true;
        _jobs.TryRemove(jobUuid, out _);
        return false;
    }

    public void ForgetJob(string jobUuid) => _jobs.TryRemove(jobUuid, out _);

    /// <summary>bgapi commands whose BACKGROUND_JOB has not come yet (nor been forgotten by their call).</summary>
    public int PendingJobs => _jobs.Count;

    /// <summary>
    /// Delivers this leg's channel events from now on, on this connection and on every later one (a
    /// <c>filter Unique-ID</c>); what happened before is for the caller to ask (<c>uuid_exists</c>), after
    /// this call so the answer and the events cannot miss each other.
    /// </summary>
    public void Follow(string uuid)
    {
        lock (_gate)
        {
            if (!_followed.Add(uuid)) return;
            _metrics.EslFollowedLegs.WithLabels(_node.ToString()).Set(_followed.Count);
            _filtered?.TrySend(EslCommands.Filter("Unique-ID", uuid));
        }
    }

    public void Unfollow(string uuid)
    {
        lock (_gate)
        {
            if (!_followed.Remove(uuid)) return;
            _metrics.EslFollowedLegs.WithLabels(_node.ToString()).Set(_followed.Count);
            _filtered?.TrySend(EslCommands.FilterDelete("Unique-ID", uuid));
        }
    }

    public int FollowedCount
    {
        get { lock (_gate) return _followed.Count; }
    }

    void IEslSessionListener.OnActive(EslSession session) =>
        _logger.LogDebug("FreeSWITCH {Node}: connected", _node);

    void IEslSessionListener.OnOther(EslSession session, EslMessage message)
    {
        switch (message)
        {
            case AuthRequest:
                session.TrySend(EslCommands.Auth(_options.EslPassword), reply =>
                {
                    if (reply is CommandReply { IsOk: true })
                    {
                        Subscribe(session);
                    }
                    else if (reply is not null)
                    {
                        _logger.LogError("FreeSWITCH {Node}: authentication refused (check ESL_PASSWORD)", _node);
                        session.Close();
                    }
                });
                break;
            case RudeRejection:
                _logger.LogError("FreeSWITCH {Node}: connection rejected by its ACL", _node);
                break;
        }
    }

    /// <summary>
    /// The filters (BACKGROUND_JOB and HEARTBEAT by name, every followed leg by uuid), then the events. The
    /// link counts as up when the last reply arrived (replies come in order), so a followed leg's events are
    /// flowing before any owner checks on it.
    /// </summary>
    private void Subscribe(EslSession session)
    {
        var refused = 0;
        void Check(EslMessage? r)
        {
            if (r is CommandReply { IsOk: true } || r is null) return;
            if (refused++ == 0) _logger.LogError("FreeSWITCH {Node}: event subscription refused ({Reply})", _node, (r as CommandReply)?.ReplyText);
        }
        lock (_gate)
        {
            if (!ReferenceEquals(session, _session)) return;
            // Filters first: from the moment events are switched on, they are already narrowed.
            session.TrySend(EslCommands.Filter("Event-Name", "BACKGROUND_JOB"), Check, flush: false);
            session.TrySend(EslCommands.Filter("Event-Name", "HEARTBEAT"), Check, flush: false);
            foreach (var uuid in _followed) session.TrySend(EslCommands.Filter("Unique-ID", uuid), Check, flush: false);
            _filtered = session;
            session.TrySend(EslCommands.Event(EslEventFormat.Plain, Subscribed), r =>
            {
                Check(r);
                if (r is null) return;
                if (refused > 0)
                {
                    session.Close();
                    return;
                }
                session.TrySend(EslCommands.Api("global_getvar core_uuid"), c =>
                {
                    if (c is null) return;
                    var core = (c as ApiResponse)?.BodyText.Trim();
                    var before = Volatile.Read(ref _coreUuid);
                    var now = string.IsNullOrEmpty(core) || core.StartsWith('-') ? null : core;
                    if (now is not null) Volatile.Write(ref _coreUuid, now);
                    SetUp(session, before, now);
                });
            });
        }
    }

    /// <param name="coreBefore">The Core-UUID the node had before (null: never read).</param>
    /// <param name="coreNow">The one it answers with now (null: it did not say).</param>
    private void SetUp(EslSession session, string? coreBefore, string? coreNow)
    {
        bool restored;
        int generation;
        lock (_gate)
        {
            if (!ReferenceEquals(session, _session)) return;
            restored = _attemptSinceUp;
            generation = ++_generation;
            _state = LinkState.Up;
            _attempt = 0;
            _attemptSinceUp = false;
            _upSignal.TrySetResult();
        }
        _metrics.EslLinksUp.WithLabels(_node.ToString()).Set(1);
        _logger.LogInformation("FreeSWITCH {Node}: control link up", _node);
        if (!restored) return;
        // A restart is told by a new Core-UUID (SPEC §4), never by the uptime: FreeSWITCH starts its uptime again
        // after a stall ("Virtual Migration Detected"), and a node that was only paused still runs what it received.
        var restarted = coreBefore is not null && coreNow is not null && coreBefore != coreNow;
        if (restarted) _logger.LogWarning("FreeSWITCH {Node} restarted while the link was down (Core-UUID {Before} → {Now})", _node, coreBefore, coreNow);
        else if (coreNow is null) _logger.LogWarning("FreeSWITCH {Node}: Core-UUID unreadable after the loss; taken as not restarted", _node);
        _listener.OnRestored(this, restarted, generation);
    }

    private bool _attemptSinceUp;

    void IEslSessionListener.OnEvent(EslSession session, EslEvent evt)
    {
        switch (evt.EventName)
        {
            case "BACKGROUND_JOB":
                var jobUuid = evt.JobUuid;
                if (jobUuid is not null && _jobs.TryRemove(jobUuid, out var cb))
                {
                    try { cb(evt); }
                    catch (Exception e) { _logger.LogError(e, "BACKGROUND_JOB handler failed"); }
                }
                break;
            case "HEARTBEAT":
                break;
            default:
                _listener.OnChannelEvent(this, evt);
                break;
        }
    }

    void IEslSessionListener.OnClosed(EslSession session)
    {
        var wasUp = false;
        TaskCompletionSource? closed = null;
        lock (_gate)
        {
            if (ReferenceEquals(session, _session))
            {
                closed = _closed;
                _closed = null;
                wasUp = _state == LinkState.Up;
                _state = LinkState.Down;
                _session = null;
                _filtered = null;
                _attemptSinceUp = true;
                _probeSentAt = 0;
                if (_upSignal.Task.IsCompleted) _upSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
        // _jobs is kept: FreeSWITCH sends every BACKGROUND_JOB to every subscriber, so the result of a bgapi
        // sent on the lost connection still arrives on the next one (its owner forgets it when the call ends).
        if (wasUp)
        {
            _metrics.EslLinksUp.WithLabels(_node.ToString()).Set(0);
            _logger.LogWarning("FreeSWITCH {Node}: control link lost", _node);
        }
        closed?.TrySetResult();
    }

    /// <summary>When the outstanding probe was sent (Stopwatch ticks); 0 when none is out. Under _gate.</summary>
    private long _probeSentAt;

    /// <summary>
    /// Every half probe interval: a node quiet for a probe interval is sent <c>api uptime</c> (a stalled one, whatever it
    /// says meanwhile); one that has not answered it within PROBE_TIMEOUT is stalled (no new call, no command) until it
    /// answers; nothing at all (no HEARTBEAT, no reply) for LinkSilenceTimeout closes the link.
    /// </summary>
    private void CheckSilence()
    {
        EslSession? s;
        LinkState state;
        long sent;
        lock (_gate)
        {
            state = _state;
            s = state != LinkState.Down || _session is { IsOpen: true } ? _session : null;
            sent = _probeSentAt;
        }

        if (s is null) return;
        var silent = DateTime.UtcNow - s.LastFrame;
        if (silent > _options.LinkSilenceTimeout)
        {
            // Also a connection that opened but never got through auth (a wedged FreeSWITCH, or a
            // proxy that accepts TCP): without this it would wait forever and never reconnect.
            _logger.LogWarning(state != LinkState.Down ? "FreeSWITCH {Node}: silent for {Seconds:F0} s, reconnecting" : "FreeSWITCH {Node}: connected but not authenticated after {Seconds:F0} s, reconnecting", _node, silent.TotalSeconds);
            s.Close();
            return;
        }
        if (state == LinkState.Down) return;
        if (sent != 0)
        {
            if (state == LinkState.Up && Stopwatch.GetElapsedTime(sent) > _options.ProbeTimeout) MarkStalled(s, sent);
            return;
        }
        if (state == LinkState.Up && silent < _options.ProbeInterval) return; // it spoke lately: alive
        var at = Stopwatch.GetTimestamp();
        lock (_gate)
        {
            if (!ReferenceEquals(s, _session) || _probeSentAt != 0) return;
            _probeSentAt = at;
        }
        if (!s.TrySend(EslCommands.Api("uptime"), r => { if (r is not null) Answered(s, at); }))
            lock (_gate) if (_probeSentAt == at) _probeSentAt = 0;
    }

    /// <summary>The probe sent at <paramref name="sent"/> is overdue: the node is stalled, unless it was answered meanwhile.</summary>
    private void MarkStalled(EslSession session, long sent)
    {
        lock (_gate)
        {
            if (!ReferenceEquals(session, _session) || _state != LinkState.Up || _probeSentAt != sent) return;
            _state = LinkState.Stalled;
            if (_upSignal.Task.IsCompleted) _upSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);
            _metrics.EslLinksUp.WithLabels(_node.ToString()).Set(0);
        }
        _logger.LogWarning("FreeSWITCH {Node}: no answer to a probe for {Ms:F0} ms; stalled: no new call and no command until it answers (what it has received still runs then)",
            _node, Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
    }

    /// <summary>
    /// The probe sent at <paramref name="sent"/> was answered. A stalled node is up again, on the same connection:
    /// nothing was lost, but what its calls could not send meanwhile is tried again (as after a reconnect).
    /// </summary>
    private void Answered(EslSession session, long sent)
    {
        lock (_gate)
        {
            if (!ReferenceEquals(session, _session) || _probeSentAt != sent) return;
            _probeSentAt = 0;
            if (_state != LinkState.Stalled) return;
            _state = LinkState.Up;
            _upSignal.TrySetResult();
            _metrics.EslLinksUp.WithLabels(_node.ToString()).Set(1);
        }
        _logger.LogInformation("FreeSWITCH {Node}: answering again ({Seconds:F1} s after the probe); control link up", _node, Stopwatch.GetElapsedTime(sent).TotalSeconds);
        _listener.OnRestored(this, false, int.MaxValue);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        if (_silenceTimer is not null) await _silenceTimer.DisposeAsync().ConfigureAwait(false);
        EslSession? s;
        lock (_gate) s = _session;
        s?.Close();
        if (_loop is not null)
        {
            try { await _loop.ConfigureAwait(false); } catch { /* stopping */ }
        }
    }
}
