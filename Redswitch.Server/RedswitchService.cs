using System.Diagnostics;
using DotNetty.Transport.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Redswitch.Calls;
using Redswitch.Calls.FreeSwitch;
using Redswitch.Server.Calls;
using Redswitch.Server.Configuration;
using Redswitch.Server.Esl;
using Redswitch.Server.Jobs;
using Redswitch.Server.Metrics;
using Redswitch.Server.Redis;
using Redswitch.Server.Redis.Outbox;
using Redswitch.Server.Takeover;
using StackExchange.Redis;

namespace Redswitch.Server;

/// <summary>Start-up fails with one clear line (SPEC §11).</summary>
public sealed class StartupException(string message) : Exception(message);

/// <summary>
/// The service: Redis connections, inbound links, outbound server, job dispatcher. Stopping (SIGTERM) drains per SPEC §8:
/// no new job at once; with DRAIN_MODE=handoff and a live peer every call is handed to a peer as soon as it is bridged
/// (<see cref="HandoffDrain"/>); otherwise live calls are served until they end or DRAIN_TIMEOUT, then hung up with
/// MANAGER_REQUEST. The drain runs in <see cref="StoppingAsync"/>, before the host stops the HTTP server, so /metrics
/// and /readyz ("draining") answer until the process exits.
/// </summary>
public sealed class RedswitchService(RedswitchOptions options, RedswitchMetrics metrics, ILoggerFactory loggers) : IHostedLifecycleService
{
    private readonly ILogger _logger = loggers.CreateLogger("Redswitch");
    private readonly CallRegistry _registry = new();
    private MultithreadEventLoopGroup? _boss;
    private MultithreadEventLoopGroup? _workers;
    private ConnectionMultiplexer? _redis;
    private ConnectionMultiplexer? _blocking;
    private OutboundServer? _outbound;
    private LinkPool? _links;
    private JobDispatcher? _dispatcher;
    private RedisOutbox? _outbox;
    private InstanceLease? _lease;
    private TakeoverMonitor? _takeover;
    private HandoffDrain? _handoff;
    private volatile bool _started;
    private volatile bool _draining;
    private Task? _stop;

    public CallRegistry Registry => _registry;
    public LinkPool? Links => _links;
    public IConnectionMultiplexer? Redis => _redis;
    public RedisOutbox? Outbox => _outbox;
    public string? InstanceId { get; private set; }
    public string? Advertise { get; private set; }
    public int OutboundPort { get; private set; }

    public bool Ready => NotReadyReason is null;

    public string? NotReadyReason =>
        _draining ? "draining"
        : !_started ? "starting"
        : _redis is not { IsConnected: true } ? "Redis not reachable"
        : _links is not { AnyUp: true } ? "no FreeSWITCH node authenticated"
        : null;

    // Kestrel binds METRICS_LISTEN in the host's StartAsync round; the service starts in the round after it, so a
    // taken port stops the process before any job is taken, and "ready" means everything is bound.
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StartedAsync(CancellationToken cancellationToken)
    {
        // DotNetty samples buffers for leak reports, capturing a stack trace each time: not in production.
        DotNetty.Common.ResourceLeakDetector.Level = DotNetty.Common.ResourceLeakDetector.DetectionLevel.Disabled;
        _boss = new MultithreadEventLoopGroup(1);
        _workers = new MultithreadEventLoopGroup(Math.Max(2, Environment.ProcessorCount));

        var redisSetting = $"PUBSUB_REDIS_URL={RedswitchOptions.MaskUrl(options.RedisUrl)}";
        var redisTimeout = TimeSpan.FromSeconds(options.RedisTimeoutSeconds);
        var redisSince = Stopwatch.GetTimestamp();
        _redis = await RedisConnect.ConnectAsync(Clone(options.Redis, abort: true), redisTimeout, redisSince, redisSetting, cancellationToken).ConfigureAwait(false);
        var blockingOptions = Clone(options.Redis, abort: true);
        blockingOptions.SyncTimeout = blockingOptions.AsyncTimeout = (options.BlockSeconds + 10) * 1000;
        blockingOptions.ClientName = "redswitch-jobs";
        // (its own few seconds at least: Redis answering at the end of the allowance is Redis answering)
        var left = redisTimeout - Stopwatch.GetElapsedTime(redisSince);
        _blocking = await RedisConnect.ConnectAsync(blockingOptions, left > TimeSpan.FromSeconds(3) ? left : TimeSpan.FromSeconds(3), Stopwatch.GetTimestamp(),
            redisSetting, cancellationToken).ConfigureAwait(false);
        _redis.ConnectionRestored += (_, _) => metrics.RedisReconnects.Inc();
        _redis.ConnectionFailed += (_, e) => { metrics.RedisErrors.Inc(); _logger.LogWarning("Redis connection lost: {Reason}", e.FailureType); };

        _outbound = new OutboundServer(options, _registry, _boss, _workers, metrics, loggers.CreateLogger("Redswitch.Outbound"), TimeProvider.System);
        try { await _outbound.StartAsync().ConfigureAwait(false); }
        catch (Exception e)
        {
            throw new StartupException($"OUTBOUND_LISTEN={options.OutboundListen}: cannot listen: {LogText.ListenFailure(e, options.OutboundListen)}");
        }
        OutboundPort = _outbound.BoundEndPoint?.Port ?? options.OutboundListen.Port;
        Advertise = options.ResolveAdvertise(OutboundPort, out var advertiseError);
        if (advertiseError is not null) throw new StartupException(advertiseError);
        InstanceId = options.InstanceId ?? $"{Environment.MachineName}-{OutboundPort}";

        var linkLogger = loggers.CreateLogger("Redswitch.Esl");
        var router = new CallRouter(_registry);
        var links = options.EslNodes.Select(n => new InboundLink(n, options, _workers, metrics, linkLogger, router)).ToList();
        _links = new LinkPool(links);
        metrics.Registry.AddBeforeCollectCallback(() =>
        {
            foreach (var l in links) metrics.CallsUnreachable.WithLabels(l.Node.ToString()).Set(l.IsUp ? 0 : l.LiveCalls);
        });

        var keys = new RedisKeys(options.JobList, InstanceId);
        JobListSampler.Attach(metrics, _redis, keys);
        _outbox = new RedisOutbox(_redis, keys, options.RedisOutboxLimit, metrics, loggers.CreateLogger("Redswitch.Redis"), TimeProvider.System);
        await _outbox.StartAsync().ConfigureAwait(false);
        var publisher = new CallPublisher(_outbox, InstanceId);
        _lease = new InstanceLease(_redis, _outbox, InstanceId, TimeSpan.FromSeconds(options.InstanceLeaseSeconds), loggers.CreateLogger("Redswitch.Redis"),
            TimeProvider.System, Advertise);
        TakeoverMonitor? takeover = null;
        var handoff = _handoff = new HandoffDrain(_redis, _registry, InstanceId, loggers.CreateLogger("Redswitch"));
        var advertise = Advertise;
        var lease = _lease;
        var settings = new CallSettings(TimeSpan.FromSeconds(options.RingTimeoutSeconds), options.SocketConnectTimeout, options.SocketLinger,
            options.EndedLinger, Advertise, options.LogPhoneNumbers);
        var ctx = new CallContext(settings, new DialStrings(options.Dial), publisher, _registry, metrics, loggers.CreateLogger("Redswitch.Calls"),
            TimeProvider.System, InstanceId)
        {
            LeaseLapsed = () => lease.InDoubt,
            HandingOff = () => handoff.Active,
            // Live peers after this instance: a caller who answers after it died still reaches someone (SPEC §8.1).
            SocketHosts = () => takeover is null ? advertise : SocketHosts.List(advertise, takeover.PeerSockets),
        };
        _dispatcher = new JobDispatcher(options, _redis, _blocking, _links, _registry, ctx, keys, _outbox, metrics, loggers.CreateLogger("Redswitch.Jobs"));
        var dispatcher = _dispatcher;
        _outbox.WriteBackInstance = db => Task.WhenAll(dispatcher.WriteHeartbeatAsync(db), lease.RenewAsync(db));
        // SPEC §8.1 "Fencing": a call another instance holds now is forgotten without a word.
        _outbox.Fenced = dialId => _registry.ByDialId(dialId)?.Forget();
        _lease.Lapsed = () =>
        {
            foreach (var owner in _registry.All) owner.Suspend();
        };
        _lease.Regained = () => KeepCallsStillOursAsync(_redis.GetDatabase(), InstanceId);
        var takeoverLogger = loggers.CreateLogger("Redswitch.Takeover");
        var claimer = new CallClaimer(_redis, _links, _registry, ctx, keys, _outbox, metrics, takeoverLogger);
        _takeover = takeover = new TakeoverMonitor(_redis, claimer, _lease, InstanceId, takeoverLogger, TimeProvider.System);
        var leaseTime = TimeSpan.FromSeconds(options.InstanceLeaseSeconds);
        _outbound.ForeignCall = (dialId, uuid) => claimer.ClaimForSocketAsync(dialId, uuid, leaseTime);
        await _lease.StartAsync().ConfigureAwait(false);

        foreach (var link in links) link.Start();
        // Wait briefly for FreeSWITCH so "ready" usually means connected; jobs wait in Redis until it is.
        try { await _links.WaitAnyUpAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false); }
        catch (TimeoutException) { }
        // An earlier run of this INSTANCE_ID left calls: resumed before the instance reports ready (SPEC §8.1).
        await _takeover.ResumeOwnAsync().ConfigureAwait(false);
        await _takeover.StartAsync().ConfigureAwait(false);
        await _dispatcher.StartAsync().ConfigureAwait(false);
        _started = true;

        _logger.LogInformation(
            "Redswitch ready: instance {Instance}, jobs from {JobList}, outbound {Listen} (advertised {Advertise}), FreeSWITCH {Nodes} {State}",
            InstanceId, options.JobList, new System.Net.IPEndPoint(options.OutboundListen.Address, OutboundPort), Advertise, string.Join(",", options.EslNodes),
            _links.AnyUp ? "connected" : "not connected yet (jobs wait in Redis)");
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>SIGTERM: the drain and the whole stop, while the HTTP server still answers (the host stops it afterwards).</summary>
    public Task StoppingAsync(CancellationToken cancellationToken) => StopOnce();

    public Task StopAsync(CancellationToken cancellationToken) => StopOnce();

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private Task StopOnce()
    {
        lock (_registry) return _stop ??= StopCoreAsync();
    }

    private async Task DrainAsync()
    {
        _draining = true;
        var sw = Stopwatch.StartNew();
        if (_dispatcher is null || _handoff is null) return;
        var deadline = TimeSpan.FromSeconds(options.DrainTimeoutSeconds);
        bool TimeUp() => sw.Elapsed >= deadline;
        var jobsStopped = _dispatcher.StopTakingAsync();
        // Marked draining first (peers stop counting on it), then it claims nothing more.
        var peers = await _handoff.AnnounceAsync(TimeSpan.FromSeconds(3)).ConfigureAwait(false);
        if (options.DrainMode == DrainMode.Hangup) peers = 0;
        if (_takeover is not null) await _takeover.DisposeAsync().ConfigureAwait(false);
        if (peers > 0)
        {
            _logger.LogInformation("stopping: no new jobs; handing {Calls} call(s) off to {Peers} live peer(s); calls being set up are served for up to {Seconds} s",
                _registry.Count, peers, options.DrainTimeoutSeconds);
            var before = metrics.CallsReleased.Value;
            var peersLeft = await _handoff.RunAsync(jobsStopped, TimeUp).ConfigureAwait(false);
            await jobsStopped.ConfigureAwait(false);
            // (with no peer left, the rest is served here as in a hang-up drain)
            while (!peersLeft && _registry.Live > 0 && !TimeUp()) await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
            if (_registry.Live > 0)
            {
                await HangUpWhatIsLeftAsync().ConfigureAwait(false);
                // Their grace is handed over too: late control messages still get their failure from a peer.
                if (peersLeft) await _handoff.ReleaseEndedAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            }
            _logger.LogInformation("handed off {Released} call(s) in {Seconds:F1} s{Left}", metrics.CallsReleased.Value - before, sw.Elapsed.TotalSeconds,
                _registry.Count > 0 ? $"; {_registry.Count} not confirmed by Redis (a peer claims them once this instance's lease has ended)" : "");
        }
        else
        {
            _logger.LogInformation("stopping: no new jobs; {Live} live call(s) to drain (up to {Seconds} s){Why}", _registry.Live, options.DrainTimeoutSeconds,
                options.DrainMode == DrainMode.Hangup ? "" : "; no live peer to hand them to");
            await jobsStopped.ConfigureAwait(false);
            while (_registry.Live > 0 && !TimeUp()) await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
            if (_registry.Live > 0) await HangUpWhatIsLeftAsync().ConfigureAwait(false);
        }
        // Nobody answers for this instance's ended calls once it is gone: their grace ends with it.
        foreach (var owner in _registry.All.ToList()) owner.EndGrace();
    }

    /// <summary>DRAIN_TIMEOUT passed: what is still live is hung up with MANAGER_REQUEST (every side still ends with its hangup-event).</summary>
    private async Task HangUpWhatIsLeftAsync()
    {
        _logger.LogWarning("drain timeout: hanging up {Live} call(s) with MANAGER_REQUEST", _registry.Live);
        var live = _registry.All.ToList();
        foreach (var owner in live) owner.HangupForShutdown();
        var grace = Stopwatch.StartNew();
        while (_registry.Live > 0 && grace.Elapsed < TimeSpan.FromSeconds(5)) await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
        foreach (var owner in live) owner.ForceEnd("MANAGER_REQUEST");
    }

    private async Task StopCoreAsync()
    {
        var sw = Stopwatch.StartNew();
        await DrainAsync().ConfigureAwait(false);
        // The calls' last writes (hangup-events of the drain, releases, deletes at the end of the grace) reach Redis
        // before the instance leaves, if Redis is there: what the index set still holds then is left for a peer.
        if (_outbox is not null) await _outbox.FlushAsync(TimeSpan.FromSeconds(3)).ConfigureAwait(false);
        if (_dispatcher is not null)
        {
            await Bounded(_dispatcher.RemoveHeartbeatAsync(), "removing the heartbeat").ConfigureAwait(false);
            if (_lease is not null) await Bounded(_lease.DisposeAsync().AsTask(), "leaving the instances set").ConfigureAwait(false);
        }
        // Each step is bounded: with Redis or FreeSWITCH already gone, stopping must still end.
        if (_links is not null) foreach (var l in _links.Links) await Bounded(l.DisposeAsync().AsTask(), "closing a FreeSWITCH link").ConfigureAwait(false);
        if (_outbound is not null) await Bounded(_outbound.DisposeAsync().AsTask(), "closing the outbound server").ConfigureAwait(false);
        if (_outbox is not null)
        {
            await _outbox.FlushAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            if (_outbox.Waiting > 0) _logger.LogWarning("stopping: {Waiting} Redis write(s) still in the outbox are lost (Redis unreachable)", _outbox.Waiting);
            await _outbox.DisposeAsync().ConfigureAwait(false);
        }
        if (_redis is not null)
        {
            await Bounded(_redis.CloseAsync(), "closing Redis").ConfigureAwait(false);
        }
        if (_blocking is not null) await Bounded(_blocking.CloseAsync(), "closing the blocking Redis connection").ConfigureAwait(false);
        if (_workers is not null) await _workers.ShutdownGracefullyAsync(TimeSpan.Zero, TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        if (_boss is not null) await _boss.ShutdownGracefullyAsync(TimeSpan.Zero, TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        _logger.LogInformation("stopped after {Seconds:F1} s", sw.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// The lease was renewed after it lapsed (SPEC §8.1 "Fencing"): each call still at this instance's epoch goes on
    /// with what it held meanwhile; the others were claimed by a peer and are forgotten without a word.
    /// </summary>
    private async Task KeepCallsStillOursAsync(IDatabase db, string instanceId)
    {
        var kept = 0;
        var lost = 0;
        var owners = _registry.All.ToList();
        // One flight for all of them: a thousand calls are checked in about one round trip.
        var held = await Task.WhenAll(owners.Select(o => db.HashGetAsync(RedisKeys.CallState(o.DialId), [CallState.Owner, CallState.Epoch]))).ConfigureAwait(false);
        for (var i = 0; i < owners.Count; i++)
        {
            var owner = owners[i];
            if ((string?)held[i][0] == instanceId && (string?)held[i][1] == CallState.Number(owner.Epoch))
            {
                owner.Unsuspend();
                kept++;
                continue;
            }
            owner.Forget();
            _outbox?.Forget(owner.DialId);
            lost++;
        }
        _logger.LogWarning("lease renewed after it lapsed: {Kept} call(s) still ours, {Lost} taken over by another instance and forgotten", kept, lost);
    }

    private async Task Bounded(Task step, string what)
    {
        try
        {
            await step.WaitAsync(TimeSpan.FromSeconds(3)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or RedisException or ObjectDisposedException)
        {
            _logger.LogWarning("stopping: {What} did not finish ({Reason}); going on", what, e.GetType().Name);
        }
    }

    private static ConfigurationOptions Clone(ConfigurationOptions o, bool abort)
    {
        var c = o.Clone();
        c.AbortOnConnectFail = abort;
        // The .NET thread pool instead of the library's dedicated workers: far fewer wake-ups per command.
        c.SocketManager = SocketManager.ThreadPool;
        // Nothing queues inside the client while it is disconnected: the outbox decides what waits (SPEC §8.1).
        c.BacklogPolicy = BacklogPolicy.FailFast;
        return c;
    }

}
