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
    /// <summary>
    /// ARGV: lease in ms, member, its outbound address (kept in <c>{redswitch}.sockets</c>: peers list it after the
    /// owner in the socket app's host list, SPEC §8.1 "Calls being set up"). Returns the new expiry (ms).
    /// </summary>
    public const string RenewScript = RedisNowMs + """
        local expiry = now + tonumber(ARGV[1])
        redis.call('ZADD', KEYS[1], expiry, ARGV[2])
        redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
        return expiry
        """;

    /// <summary>Lua that sets <c>now</c> to Redis's clock in ms: leases are judged by one clock, whatever the instances' clocks say.</summary>
    public const string RedisNowMs = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

        """;

    public static RedisKey[] RenewKeys => [RedisKeys.Instances, RedisKeys.Sockets];

    /// <summary>
    /// Leaving at a graceful stop: out of the socket hosts and the draining set, and out of the instances — unless calls
    /// are still in its index set (released ones no peer has claimed yet, or ones a Redis failure kept): then its lease
    /// ends now instead (score 0), so peers claim what is left at their next checks. ARGV: member.
    /// </summary>
    public const string LeaveScript = """
        redis.call('HDEL', KEYS[2], ARGV[1])
        redis.call('SREM', KEYS[3], ARGV[1])
        if redis.call('SCARD', KEYS[4]) > 0 then
          redis.call('ZADD', KEYS[1], 0, ARGV[1])
          return 1
        end
        redis.call('ZREM', KEYS[1], ARGV[1])
        return 0
        """;

    public static RedisKey[] LeaveKeys(string instanceId) => [RedisKeys.Instances, RedisKeys.Sockets, RedisKeys.Draining, RedisKeys.Owned(instanceId)];

    private readonly IDatabase _db;
    private readonly RedisOutbox _outbox;
    private readonly string _instanceId;
    private readonly TimeSpan _lease;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private ITimer? _timer;
    private int _renewing;
    private long _renewedSentAt;
    private long _heldSince;
    private State _state = State.Held;

    /// <summary>Where the lease is (SPEC §8.1 "Fencing").</summary>
    public enum State
    {
        Held,
        /// <summary>Not renewed for INSTANCE_LEASE − 1 s: the instance acts on none of its calls.</summary>
        Lapsed,
        /// <summary>Renewed again; the calls are being checked against their hashes before anything acts.</summary>
        Verifying,
    }

    /// <summary>Runs when a lapsed lease is renewed again: keeps the calls still at this instance's epoch, forgets the rest.</summary>
    public Func<Task>? Regained { get; set; }

    /// <summary>The lease lapsed (once per lapse).</summary>
    public Action? Lapsed { get; set; }

    private readonly object _gate = new();

    /// <summary>
    /// Whether the instance must not act on its calls now: the lease lapsed or is being verified, or — checked by the
    /// clock, so that a process that was paused acts on nothing it finds on waking — the last confirmed renewal was
    /// sent more than INSTANCE_LEASE − 1 s ago.
    /// </summary>
    public bool InDoubt
    {
        get
        {
            lock (_gate) if (_state != State.Held) return true;
            return Overdue();
        }
    }

    /// <summary>The lease has been held without a break for at least a whole lease (a peer may claim only then).</summary>
    public bool HeldForAWholeLease
    {
        get
        {
            lock (_gate) if (_state != State.Held || _heldSince == 0) return false;
            return !Overdue() && _time.GetElapsedTime(Interlocked.Read(ref _heldSince)) >= _lease;
        }
    }

    private bool Overdue()
    {
        var sent = Interlocked.Read(ref _renewedSentAt);
        return sent != 0 && _time.GetElapsedTime(sent) > _lease - TimeSpan.FromSeconds(1);
    }

    private readonly string _advertise;

    public InstanceLease(IConnectionMultiplexer redis, RedisOutbox outbox, string instanceId, TimeSpan lease, ILogger logger, TimeProvider time,
        string advertise = "")
    {
        _advertise = advertise;
        _db = redis.GetDatabase();
        _outbox = outbox;
        _instanceId = instanceId;
        _lease = lease;
        _logger = logger;
        _time = time;
    }

    /// <summary>Registers now (start-up fails if Redis refuses), then renews every second.</summary>
    public async Task StartAsync()
    {
        // An earlier run of this INSTANCE_ID that died draining is not draining now.
        await _db.SetRemoveAsync(RedisKeys.Draining, _instanceId).ConfigureAwait(false);
        await RenewAsync(_db).ConfigureAwait(false);
        Interlocked.Exchange(ref _heldSince, _time.GetTimestamp());
        _timer = _time.CreateTimer(_ => Tick(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    private void Tick()
    {
        var lapsed = false;
        lock (_gate)
        {
            if (_state == State.Held && Overdue())
            {
                _state = State.Lapsed;
                lapsed = true;
            }
        }
        if (lapsed)
        {
            _logger.LogWarning("lease not renewed for {Seconds:F1} s (INSTANCE_LEASE {Lease} s): acting on no call until it is renewed and each call is checked",
                _time.GetElapsedTime(Interlocked.Read(ref _renewedSentAt)).TotalSeconds, _lease.TotalSeconds);
            Lapsed?.Invoke();
        }
        // While Redis is away the outbox writes the registration back first, when it returns.
        if (!_outbox.Online || Interlocked.Exchange(ref _renewing, 1) == 1) return;
        _ = RenewAsync(_db).ContinueWith(async t =>
        {
            if (t.IsFaulted) _ = t.Exception; // the outbox notices the outage and logs it once
            else await AfterRenewalAsync().ConfigureAwait(false);
            Volatile.Write(ref _renewing, 0);
        }, TaskScheduler.Default).Unwrap();
    }

    /// <summary>A renewal went through: a lapsed lease is held again once every call has been checked.</summary>
    private async Task AfterRenewalAsync()
    {
        lock (_gate)
        {
            if (_state != State.Lapsed) return;
            _state = State.Verifying;
        }
        try
        {
            if (Regained is { } regained) await regained().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Checked again after the next renewal.
            _logger.LogWarning("checking the calls after the lease was renewed failed ({Reason}); trying again", LogText.FirstLine(e.Message));
            lock (_gate) _state = State.Lapsed;
            return;
        }
        lock (_gate)
        {
            _state = State.Held;
            Interlocked.Exchange(ref _heldSince, _time.GetTimestamp());
        }
        _logger.LogInformation("lease renewed again; the calls still at this instance's epoch go on");
    }

    /// <summary>One renewal (also the outbox's write-back after Redis lost its data).</summary>
    public async Task RenewAsync(IDatabase db)
    {
        var sent = _time.GetTimestamp();
        await db.ScriptEvaluateAsync(RenewScript, RenewKeys, [(long)_lease.TotalMilliseconds, _instanceId, _advertise]).ConfigureAwait(false);
        Interlocked.Exchange(ref _renewedSentAt, sent);
    }

    /// <summary>Stops renewing and leaves the set (a stopped instance is not live); see <see cref="LeaveScript"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_timer is not null) await _timer.DisposeAsync().ConfigureAwait(false);
        try
        {
            var left = (long)await _db.ScriptEvaluateAsync(LeaveScript, LeaveKeys(_instanceId), [_instanceId]).ConfigureAwait(false);
            if (left == 1) _logger.LogInformation("stopping: calls remain in {Key}; lease ended now so that peers claim them", RedisKeys.Owned(_instanceId));
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            _logger.LogWarning("stopping: could not leave {Key} ({Reason}); the lease lapses by itself", RedisKeys.Instances, LogText.FirstLine(e.Message));
        }
    }
}
