using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Redswitch.Server.Metrics;
using StackExchange.Redis;

namespace Redswitch.Server.Redis.Outbox;

/// <summary>
/// Every Redis write a call makes goes through here (SPEC §4 "Events survive a Redis outage"): per-call lanes keep
/// each call's order; while Redis is unreachable the writes wait in memory (at most <c>REDIS_OUTBOX_LIMIT</c>) and go
/// out when it is back; a command Redis refuses is logged, counted and dropped. Nobody upstream ever sees a Redis
/// exception. When Redis comes back with a new run_id, the state of every call is written back before anything else
/// goes out (SPEC §8.1).
/// </summary>
public sealed class RedisOutbox : IAsyncDisposable
{
    private enum Link { Online, Offline }

    private readonly IConnectionMultiplexer _redis;
    private readonly RedisKeys _keys;
    private readonly RedswitchMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly int _limit;
    private readonly ConcurrentDictionary<string, OutboxLane> _lanes = new(StringComparer.Ordinal);
    private readonly object _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private Link _link = Link.Online;
    private TaskCompletionSource _online = Completed();
    private long _offlineSince;
    private int _waiting;
    private long _droppedThisOutage;
    private Dictionary<string, string> _runIds = [];
    private Task _recovery = Task.CompletedTask;
    private int _restarts;

    /// <summary>How many times Redis came back with a new run_id (writes in flight across one are in doubt).</summary>
    internal int Restarts => Volatile.Read(ref _restarts);

    /// <summary>Extra instance-level writes to put back after Redis lost its data (the heartbeat, the registration).</summary>
    public Func<IDatabase, Task>? WriteBackInstance { get; set; }

    /// <summary>How often an unreachable Redis is checked again.</summary>
    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromMilliseconds(200);

    public RedisOutbox(IConnectionMultiplexer redis, RedisKeys keys, int limit, RedswitchMetrics metrics, ILogger logger, TimeProvider time)
    {
        _redis = redis;
        _keys = keys;
        _limit = limit;
        _metrics = metrics;
        _logger = logger;
        _time = time;
        Database = redis.GetDatabase();
        metrics.Registry.AddBeforeCollectCallback(() =>
        {
            metrics.OutboxMessages.Set(Volatile.Read(ref _waiting));
            lock (_gate) metrics.OutboxOfflineSeconds.Set(_link == Link.Offline ? _time.GetElapsedTime(_offlineSince).TotalSeconds : 0);
        });
        redis.ConnectionFailed += (_, e) => Unreachable($"{e.FailureType} on {e.EndPoint}");
    }

    internal IDatabase Database { get; }

    /// <summary>Messages waiting (queued and not yet confirmed) in all lanes.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    public bool Online
    {
        get { lock (_gate) return _link == Link.Online; }
    }

    /// <summary>Completes when Redis is reachable (at once when it is).</summary>
    public Task WhenOnline
    {
        get { lock (_gate) return _online.Task; }
    }

    /// <summary>Remembers each primary's run_id, to tell a restarted Redis later.</summary>
    public async Task StartAsync()
    {
        _runIds = await RunIdsAsync().ConfigureAwait(false);
    }

    /// <summary>The lane of a call: its writes in order. <paramref name="job"/> is written back into the processing list while unsettled.</summary>
    public OutboxLane Track(string dialId, string orgId, string userId, string? job) =>
        _lanes.GetOrAdd(dialId, static (d, a) => new OutboxLane(a.Outbox, d, a.orgId, a.userId, a.job), (Outbox: this, orgId, userId, job));

    /// <summary>The lane of a dial_id (made on first use, for a call not tracked with <see cref="Track"/>).</summary>
    public OutboxLane Lane(string dialId) =>
        _lanes.TryGetValue(dialId, out var lane) ? lane : _lanes.GetOrAdd(dialId, static (d, o) => new OutboxLane(o, d, null, null, null), this);

    /// <summary>A lane for writes that belong to no call (a refused job, a job given back): forgotten when empty.</summary>
    public OutboxLane Detached() => new(this, null, null, null, null);

    internal bool TryReserve(OutboxLane lane, OutboxWrite write)
    {
        if (Interlocked.Increment(ref _waiting) <= _limit) return true;
        Interlocked.Decrement(ref _waiting);
        _metrics.OutboxDropped.Inc();
        // Logged once per outage (with the count when Redis is back), not once per message: the log must survive it.
        if (Interlocked.Increment(ref _droppedThisOutage) == 1)
        {
            if (lane.DialId is null)
                _logger.LogError("the Redis outbox is full ({Limit} messages, REDIS_OUTBOX_LIMIT): dropping new messages, first {What}", _limit, write.What);
            else
                _logger.LogError("the Redis outbox is full ({Limit} messages, REDIS_OUTBOX_LIMIT): dropping new messages, first {What} of dial_id {DialId}",
                    _limit, write.What, lane.DialId);
        }
        return false;
    }

    internal void Release(OutboxLane lane, OutboxWrite write, WriteOutcome outcome)
    {
        Interlocked.Decrement(ref _waiting);
        if (outcome == WriteOutcome.Stale)
            _logger.LogInformation("dropped a stale write of dial_id {DialId}: {What} (a newer one is in Redis)", lane.DialId, write.What);
    }

    /// <summary>A call's lane was fenced: its owner is told to forget the call (SPEC §8.1 "Fencing").</summary>
    public Action<string>? Fenced { get; set; }

    internal void LaneFenced(OutboxLane lane)
    {
        _logger.LogWarning("dial_id {DialId}: another instance owns the call now; this instance forgets it", lane.DialId);
        if (lane.DialId is { } dialId)
        {
            _lanes.TryRemove(new KeyValuePair<string, OutboxLane>(dialId, lane));
            Fenced?.Invoke(dialId);
        }
    }

    /// <summary>A call this instance no longer owns: its lane goes, with whatever it still held.</summary>
    public void Forget(string dialId)
    {
        if (_lanes.TryRemove(dialId, out var lane)) lane.Drop();
    }

    internal void LaneIdle(OutboxLane lane)
    {
        // The call is over in Redis: nothing more to write back for it.
        if (lane.Finished && lane.DialId is not null) _lanes.TryRemove(new KeyValuePair<string, OutboxLane>(lane.DialId, lane));
    }

    /// <summary>Classifies a failed attempt: retried when Redis is unreachable or not ready, otherwise dropped.</summary>
    internal WriteOutcome Failed(OutboxLane lane, OutboxWrite write, Exception e)
    {
        _metrics.RedisErrors.Inc();
        if (IsUnreachable(e))
        {
            Unreachable(LogText.FirstLine(e.Message));
            return WriteOutcome.Retry;
        }
        if (lane.DialId is null) _logger.LogWarning("Redis refused a write, dropped: {What}: {Reason}", write.What, LogText.FirstLine(e.Message));
        else _logger.LogWarning("Redis refused a write of dial_id {DialId}, dropped: {What}: {Reason}", lane.DialId, write.What, LogText.FirstLine(e.Message));
        return WriteOutcome.Rejected;
    }

    /// <summary>
    /// Unreachable means "send it again later": the connection (or its absence: FailFast), a timeout (the command may
    /// or may not have run: the lanes' writes are safe to repeat), and the replies of a server that cannot serve yet.
    /// </summary>
    public static bool IsUnreachable(Exception e) => e switch
    {
        RedisServerException s => s.Message.StartsWith("LOADING", StringComparison.Ordinal) || s.Message.StartsWith("BUSY", StringComparison.Ordinal)
            || s.Message.StartsWith("MASTERDOWN", StringComparison.Ordinal) || s.Message.StartsWith("TRYAGAIN", StringComparison.Ordinal)
            || s.Message.StartsWith("CLUSTERDOWN", StringComparison.Ordinal) || s.Message.StartsWith("READONLY", StringComparison.Ordinal),
        RedisConnectionException or RedisTimeoutException or TimeoutException or ObjectDisposedException => true,
        _ => false,
    };

    private void Unreachable(string reason)
    {
        lock (_gate)
        {
            if (_link == Link.Offline || _stop.IsCancellationRequested) return;
            _link = Link.Offline;
            _online = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _offlineSince = _time.GetTimestamp();
            _recovery = Task.Run(RecoverAsync);
        }
        _logger.LogWarning("Redis unreachable ({Reason}): writes wait in the outbox ({Waiting} now, at most {Limit})", reason, Waiting, _limit);
    }

    private async Task RecoverAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try { await Task.Delay(RetryInterval, _time, _stop.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            if (!_redis.IsConnected) continue;
            try
            {
                var runIds = await RunIdsAsync().ConfigureAwait(false);
                if (runIds.Count == 0) continue; // loading, or no primary yet
                var restarted = runIds.Where(r => _runIds.TryGetValue(r.Key, out var old) && old != r.Value).Select(r => r.Key).ToList();
                if (restarted.Count > 0)
                {
                    Interlocked.Increment(ref _restarts);
                    await WriteBackAsync(restarted).ConfigureAwait(false);
                }
                _runIds = runIds;
            }
            catch (Exception e) when (IsUnreachable(e) || e is RedisException)
            {
                _metrics.RedisErrors.Inc();
                continue;
            }

            TaskCompletionSource online;
            long dropped;
            lock (_gate)
            {
                _link = Link.Online;
                online = _online;
                dropped = Interlocked.Exchange(ref _droppedThisOutage, 0);
            }
            _logger.LogInformation("Redis reachable again after {Seconds:F1} s: sending the {Waiting} waiting write(s){Dropped}",
                _time.GetElapsedTime(_offlineSince).TotalSeconds, Waiting, dropped > 0 ? $"; {dropped} were dropped (outbox full)" : "");
            online.TrySetResult();
            return;
        }
    }

    /// <summary>A primary came back with a new run_id: what this instance owns goes back first (its lanes wait meanwhile).</summary>
    private async Task WriteBackAsync(List<string> restarted)
    {
        var lanes = _lanes.Values.ToList();
        var writes = lanes.Select(l => l.WriteBackAsync(Database, _keys)).ToList();
        if (WriteBackInstance is { } instance) writes.Add(instance(Database));
        await Task.WhenAll(writes).ConfigureAwait(false);
        _logger.LogWarning("Redis {Servers} restarted (new run_id): wrote back the state of {Calls} call(s) of this instance before sending anything else",
            string.Join(",", restarted), lanes.Count(l => l.DialId is not null && !l.Finished));
    }

    /// <summary>run_id of every connected primary that has finished loading its data.</summary>
    private async Task<Dictionary<string, string>> RunIdsAsync()
    {
        var ids = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var endpoint in _redis.GetEndPoints())
        {
            var server = _redis.GetServer(endpoint);
            if (!server.IsConnected || server.IsReplica) continue;
            // Not InfoRaw: the client reserves it for admin mode, which this service does not need otherwise.
            var info = (string?)await server.ExecuteAsync("INFO", "server").ConfigureAwait(false) ?? "";
            var persistence = (string?)await server.ExecuteAsync("INFO", "persistence").ConfigureAwait(false) ?? "";
            if (Field(persistence, "loading") == "1") return [];
            if (Field(info, "run_id") is { } id) ids[endpoint.ToString()!] = id;
        }
        return ids;
    }

    private static string? Field(string info, string name)
    {
        foreach (var line in info.Split('\n'))
        {
            if (line.StartsWith(name + ":", StringComparison.Ordinal)) return line[(name.Length + 1)..].Trim();
        }
        return null;
    }

    /// <summary>Waits (bounded) until the lanes are empty: the last writes of a stopping instance.</summary>
    public async Task FlushAsync(TimeSpan within)
    {
        var until = _time.GetTimestamp() + (long)(within.TotalSeconds * _time.TimestampFrequency);
        while (Waiting > 0 && _time.GetTimestamp() < until)
            await Task.Delay(TimeSpan.FromMilliseconds(20), _time).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _recovery.ConfigureAwait(false);
    }

    private static TaskCompletionSource Completed()
    {
        var t = new TaskCompletionSource();
        t.SetResult();
        return t;
    }

}
