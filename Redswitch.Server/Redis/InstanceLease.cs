using Microsoft.Extensions.Logging;
using Redswitch.Server.Redis.Outbox;
using StackExchange.Redis;

namespace Redswitch.Server.Redis;

/// <summary>
/// This instance's registration in <c>{redswitch}.instances</c> (SPEC §8.1 "Instances"): its lease expiry as the
/// score, renewed every second. The expiry is computed by Redis's clock (TIME inside the script), so instances whose
/// clocks disagree still agree on who is live.
/// </summary>
public sealed class InstanceLease : IAsyncDisposable
{
    /// <summary>ARGV: lease in ms, member. Returns the new expiry (ms).</summary>
    public const string RenewScript = """
        local t = redis.call('TIME')
        local expiry = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
        redis.call('ZADD', KEYS[1], expiry, ARGV[2])
        return expiry
        """;

    public static RedisKey[] RenewKeys => [RedisKeys.Instances];

    private readonly IDatabase _db;
    private readonly RedisOutbox _outbox;
    private readonly string _instanceId;
    private readonly TimeSpan _lease;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private ITimer? _timer;
    private int _renewing;
    private long _renewedSentAt;

    public InstanceLease(IConnectionMultiplexer redis, RedisOutbox outbox, string instanceId, TimeSpan lease, ILogger logger, TimeProvider time)
    {
        _db = redis.GetDatabase();
        _outbox = outbox;
        _instanceId = instanceId;
        _lease = lease;
        _logger = logger;
        _time = time;
    }

    /// <summary>When the last renewal Redis confirmed was sent (monotonic timestamp; 0 before the first).</summary>
    public long RenewedSentAt => Interlocked.Read(ref _renewedSentAt);

    /// <summary>Registers now (start-up fails if Redis refuses), then renews every second.</summary>
    public async Task StartAsync()
    {
        await RenewAsync(_db).ConfigureAwait(false);
        _timer = _time.CreateTimer(_ => Tick(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    private void Tick()
    {
        // While Redis is away the outbox writes the registration back first, when it returns.
        if (!_outbox.Online || Interlocked.Exchange(ref _renewing, 1) == 1) return;
        _ = RenewAsync(_db).ContinueWith(t =>
        {
            if (t.IsFaulted) _ = t.Exception; // the outbox notices the outage and logs it once
            Volatile.Write(ref _renewing, 0);
        }, TaskScheduler.Default);
    }

    /// <summary>One renewal (also the outbox's write-back after Redis lost its data).</summary>
    public async Task RenewAsync(IDatabase db)
    {
        var sent = _time.GetTimestamp();
        await db.ScriptEvaluateAsync(RenewScript, RenewKeys, [(long)_lease.TotalMilliseconds, _instanceId]).ConfigureAwait(false);
        Interlocked.Exchange(ref _renewedSentAt, sent);
    }

    /// <summary>Stops renewing and leaves the set (a stopped instance is not live).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_timer is not null) await _timer.DisposeAsync().ConfigureAwait(false);
        try { await _db.SortedSetRemoveAsync(RedisKeys.Instances, _instanceId).ConfigureAwait(false); }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            _logger.LogWarning("stopping: could not leave {Key} ({Reason}); the lease lapses by itself", RedisKeys.Instances, LogText.FirstLine(e.Message));
        }
    }
}
