using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Redswitch.Server.Redis;
using StackExchange.Redis;

namespace Redswitch.Server.Takeover;

/// <summary>
/// Looks for lapsed instances every second and claims their calls (SPEC §8.1 "Claim"): only while this instance has
/// held its own lease for a whole lease, and only for an instance seen lapsed on two checks in a row (the second
/// <see cref="ConfirmAfter"/> after the first). Also resumes
/// the calls this instance's own earlier run left (same INSTANCE_ID), before the instance reports ready.
/// </summary>
public sealed class TakeoverMonitor : IAsyncDisposable
{
    /// <summary>
    /// By Redis's clock: the members whose lease expired, and the outbound addresses of the live ones that are not
    /// draining, in member order (this instance left out of both). ARGV: this instance.
    /// </summary>
    public const string LapsedScript = InstanceLease.RedisNowMs + """
        local lapsed, live = {}, {}
        for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)) do
          if m ~= ARGV[1] then lapsed[#lapsed + 1] = m end
        end
        local members = redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
        table.sort(members)
        for _, m in ipairs(members) do
          local address = redis.call('HGET', KEYS[2], m)
          if m ~= ARGV[1] and address and redis.call('SISMEMBER', KEYS[3], m) == 0 then live[#live + 1] = address end
        end
        return {lapsed, live}
        """;

    /// <summary>A lapsed member with no call left leaves the sets, unless it renewed meanwhile. ARGV: member.</summary>
    public const string ForgetScript = InstanceLease.RedisNowMs + """
        local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
        if score and tonumber(score) < now then
          redis.call('HDEL', KEYS[2], ARGV[1])
          redis.call('SREM', KEYS[3], ARGV[1])
          return redis.call('ZREM', KEYS[1], ARGV[1])
        end
        return 0
        """;

    public static RedisKey[] MonitorKeys => [RedisKeys.Instances, RedisKeys.Sockets, RedisKeys.Draining];

    private readonly IDatabase _db;
    private readonly CallClaimer _claimer;
    private readonly InstanceLease _lease;
    private readonly string _instanceId;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, int> _seenLapsed = new(StringComparer.Ordinal);
    /// <summary>
    /// Calls to claim again: this instance's own leftovers that could not be resumed yet (no link to their node), and
    /// claims a Redis failure interrupted (by dial_id: the lapsed owner, and whose index set names the call now).
    /// </summary>
    private readonly ConcurrentDictionary<string, (string From, string IndexOf, bool Released)> _retry = new(StringComparer.Ordinal);
    private readonly IConnectionMultiplexer _redis;
    private ITimer? _timer;
    private int _running;
    private ChannelMessageQueue? _handoffs;
    /// <summary>Claims of released calls at a time: a peer draining a thousand calls does not get a thousand at once.</summary>
    private readonly SemaphoreSlim _claiming = new(16);
    private int _handoffClaims;
    private volatile bool _stopped;

    public TakeoverMonitor(IConnectionMultiplexer redis, CallClaimer claimer, InstanceLease lease, string instanceId, ILogger logger, TimeProvider time)
    {
        _redis = redis;
        _db = redis.GetDatabase();
        _claimer = claimer;
        _lease = lease;
        _instanceId = instanceId;
        _logger = logger;
        _time = time;
    }

    /// <summary>Resumes the calls an earlier run of this INSTANCE_ID owned (called before the instance is ready).</summary>
    public async Task ResumeOwnAsync()
    {
        var left = await _db.SetMembersAsync(RedisKeys.Owned(_instanceId)).ConfigureAwait(false);
        if (left.Length == 0) return;
        var claimed = 0;
        foreach (var member in left)
        {
            var dialId = (string)member!;
            if (await ClaimOneAsync(dialId, _instanceId, _instanceId).ConfigureAwait(false) == ClaimResult.Claimed) claimed++;
        }
        _logger.LogInformation("resumed {Claimed} call(s) left by an earlier run of {Instance}{Waiting}", claimed, _instanceId,
            _retry.Count > 0 ? $"; {_retry.Count} wait for their FreeSWITCH node or for Redis" : "");
    }

    /// <summary>Listens for calls released by draining peers, and looks for lapsed instances every second.</summary>
    public async Task StartAsync()
    {
        _handoffs = await _redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(RedisKeys.Handoff)).ConfigureAwait(false);
        _handoffs.OnMessage(m => OnHandoff((string?)m.Message));
        _timer = _time.CreateTimer(_ => Tick(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    /// <summary>"&lt;instance&gt; &lt;dial_id&gt;": a draining peer released the call (SPEC §8.1 "Release"); claimed at once.</summary>
    private void OnHandoff(string? message)
    {
        var space = message?.IndexOf(' ') ?? -1;
        if (_stopped || space <= 0) return;
        var from = message![..space];
        if (from == _instanceId) return;
        Interlocked.Increment(ref _handoffClaims);
        _ = ClaimReleasedAsync(from, message[(space + 1)..]);
    }

    private async Task ClaimReleasedAsync(string from, string dialId)
    {
        try
        {
            await _claiming.WaitAsync().ConfigureAwait(false);
            try
            {
                // Not while this instance's own footing is in doubt: the call stays released, and its owner's exit ends
                // its lease, so the ordinary claim finds it then.
                if (!_stopped && !_lease.InDoubt) await ClaimOneAsync(dialId, from, from, released: true).ConfigureAwait(false);
            }
            finally { _claiming.Release(); }
        }
        finally { Interlocked.Decrement(ref _handoffClaims); }
    }

    private void Tick()
    {
        if (Interlocked.Exchange(ref _running, 1) == 1) return;
        _ = CheckAsync().ContinueWith(t =>
        {
            if (t.IsFaulted) _logger.LogWarning("looking for lapsed instances failed: {Reason}", LogText.FirstLine(t.Exception!.GetBaseException().Message));
            Volatile.Write(ref _running, 0);
        }, TaskScheduler.Default);
    }

    /// <summary>One check: which instances are lapsed now, and the calls of those seen lapsed twice.</summary>
    public async Task CheckAsync()
    {
        if (!_lease.HeldForAWholeLease)
        {
            // Not connected long enough to judge others: it may be this instance that was away.
            _seenLapsed.Clear();
            if (!_lease.InDoubt) await LapsedAsync().ConfigureAwait(false); // the live peers' addresses, for new calls
            return;
        }
        foreach (var (dialId, (from, indexOf, released)) in _retry.ToList())
        {
            _retry.TryRemove(dialId, out _);
            await ClaimOneAsync(dialId, from, indexOf, released).ConfigureAwait(false);
        }

        var lapsed = await LapsedAsync().ConfigureAwait(false);
        foreach (var gone in _seenLapsed.Keys.Where(k => !lapsed.Contains(k)).ToList()) _seenLapsed.Remove(gone);
        var confirm = false;
        foreach (var instance in lapsed) confirm |= (_seenLapsed[instance] = _seenLapsed.GetValueOrDefault(instance) + 1) == 1;
        if (confirm)
        {
            // The second look comes sooner than the next tick: a dead owner's calls are regained within INSTANCE_LEASE + 2 s
            // of its last renewal even when the first look fell just before its lease expired.
            await Task.Delay(ConfirmAfter, _time).ConfigureAwait(false);
            lapsed = await LapsedAsync().ConfigureAwait(false);
            foreach (var instance in lapsed)
                if (_seenLapsed.TryGetValue(instance, out var seen) && seen == 1) _seenLapsed[instance] = 2;
        }
        foreach (var instance in lapsed)
            if (_seenLapsed.GetValueOrDefault(instance) >= 2) await ClaimAllAsync(instance).ConfigureAwait(false);
    }

    /// <summary>How long after first seeing an instance lapsed it is looked at again (the second of the two checks).</summary>
    public static readonly TimeSpan ConfirmAfter = TimeSpan.FromMilliseconds(300);

    private async Task<HashSet<string>> LapsedAsync()
    {
        var both = (RedisResult[]?)await _db.ScriptEvaluateAsync(LapsedScript, MonitorKeys, [_instanceId]).ConfigureAwait(false) ?? [];
        var lapsed = both.Length > 0 ? ((RedisResult[]?)both[0] ?? []).Select(r => (string)r!).ToHashSet(StringComparer.Ordinal) : [];
        if (both.Length > 1)
            Volatile.Write(ref _peerSockets, ((RedisResult[]?)both[1] ?? []).Select(r => (string)r!).Where(SocketHosts.IsAddress).Take(SocketHosts.MaxPeers).ToArray());
        return lapsed;
    }

    private string[] _peerSockets = [];

    /// <summary>The outbound addresses of live peers (at most <see cref="SocketHosts.MaxPeers"/>), as of the last check.</summary>
    public IReadOnlyList<string> PeerSockets => Volatile.Read(ref _peerSockets);

    private async Task ClaimAllAsync(string instance)
    {
        var calls = await _db.SetMembersAsync(RedisKeys.Owned(instance)).ConfigureAwait(false);
        var claimed = 0;
        var waiting = 0;
        foreach (var member in calls)
        {
            if (!_lease.HeldForAWholeLease) return; // this instance lost its own footing meanwhile
            switch (await ClaimOneAsync((string)member!, instance, instance).ConfigureAwait(false))
            {
                case ClaimResult.Claimed: claimed++; break;
                case ClaimResult.NoLink: waiting++; break;
            }
        }
        if (claimed > 0) _logger.LogWarning("instance {Instance} lapsed: took over {Claimed} of its call(s)", instance, claimed);
        if (waiting == 0 && await _db.SetLengthAsync(RedisKeys.Owned(instance)).ConfigureAwait(false) == 0)
        {
            await _db.ScriptEvaluateAsync(ForgetScript, MonitorKeys, [instance]).ConfigureAwait(false);
            _seenLapsed.Remove(instance);
        }
    }

    private async Task<ClaimResult> ClaimOneAsync(string dialId, string from, string indexOf, bool released = false)
    {
        try
        {
            var result = await _claimer.ClaimAsync(dialId, from, indexOf, released).ConfigureAwait(false);
            // Own leftovers and released calls wait for their node here; a lapsed peer's stay in its index set, found
            // again on the next check.
            if (result == ClaimResult.NoLink && (from == _instanceId || released)) _retry[dialId] = (from, indexOf, released);
            return result;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            _logger.LogWarning("claiming dial_id {DialId} of {Instance} failed ({Reason}); trying again", dialId, from, LogText.FirstLine(e.Message));
            // The SMOVE may have gone through: the call is then in this instance's index set.
            _retry[dialId] = (from, await MovedAsync(dialId) ? _instanceId : indexOf, released);
            return ClaimResult.NoLink;
        }
    }

    private async Task<bool> MovedAsync(string dialId)
    {
        try { return await _db.SetContainsAsync(RedisKeys.Owned(_instanceId), dialId).ConfigureAwait(false); }
        catch (Exception e) when (e is RedisException or TimeoutException) { return true; } // SMOVE from ours to ours is harmless
    }

    /// <summary>Claims nothing more (a draining instance takes no call): the timer and the hand-off channel stop, claims under way finish.</summary>
    public async ValueTask DisposeAsync()
    {
        _stopped = true;
        if (_timer is not null) await _timer.DisposeAsync().ConfigureAwait(false);
        if (_handoffs is not null)
        {
            try { await _handoffs.UnsubscribeAsync().ConfigureAwait(false); }
            catch (Exception e) when (e is RedisException or TimeoutException) { /* stopping: the channel goes with the connection */ }
        }
        for (var i = 0; i < 500 && (Volatile.Read(ref _running) == 1 || Volatile.Read(ref _handoffClaims) > 0); i++) await Task.Delay(20).ConfigureAwait(false);
    }
}
