using Microsoft.Extensions.Logging;
using Redswitch.Calls;
using Redswitch.Calls.Jobs;
using Redswitch.Server.Calls;
using Redswitch.Server.Configuration;
using Redswitch.Server.Esl;
using Redswitch.Server.Metrics;
using Redswitch.Server.Redis;
using Redswitch.Server.Redis.Outbox;
using Redswitch.Server.Redis.Outbox.Writes;
using StackExchange.Redis;

namespace Redswitch.Server.Jobs;

/// <summary>
/// Takes jobs reliably (SPEC §3.2): BLMOVE from JOB_LIST into this instance's processing list on a
/// dedicated blocking connection, only while a FreeSWITCH link is up; validates, marks the dial_id
/// dialled (SET NX), subscribes to its channel and hands the call to a new <see cref="CallOwner"/>.
/// </summary>
public sealed class JobDispatcher
{
    private readonly RedswitchOptions _options;
    private readonly IConnectionMultiplexer _redis;
    private readonly IConnectionMultiplexer _blocking;
    private readonly LinkPool _links;
    private readonly CallRegistry _registry;
    private readonly CallContext _ctx;
    private readonly RedswitchMetrics _metrics;
    private readonly ILogger _logger;
    private readonly RedisKeys _keys;
    private readonly RedisOutbox _outbox;
    private readonly IDatabase _db;
    private readonly SemaphoreSlim _slots;
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;
    private Timer? _heartbeat;
    private int _inFlight;

    public JobDispatcher(RedswitchOptions options, IConnectionMultiplexer redis, IConnectionMultiplexer blocking, LinkPool links,
        CallRegistry registry, CallContext ctx, RedisKeys keys, RedisOutbox outbox, RedswitchMetrics metrics, ILogger logger)
    {
        _outbox = outbox;
        _options = options;
        _redis = redis;
        _blocking = blocking;
        _links = links;
        _registry = registry;
        _ctx = ctx;
        _metrics = metrics;
        _logger = logger;
        _keys = keys;
        _db = redis.GetDatabase();
        _slots = new SemaphoreSlim(options.MaxConcurrentJobs);
    }

    public bool Stopping => _stop.IsCancellationRequested;

    public async Task StartAsync()
    {
        await _db.StringSetAsync(_keys.Heartbeat, "1", TimeSpan.FromSeconds(_options.HeartbeatInterval.TotalSeconds * 3)).ConfigureAwait(false);
        _heartbeat = new Timer(_ => Heartbeat(), null, _options.HeartbeatInterval, _options.HeartbeatInterval);
        await RecoverAsync().ConfigureAwait(false);
        _loop = Task.Run(LoopAsync);
    }

    private int _reclaiming;

    private void Heartbeat()
    {
        // While Redis is away the outbox knows it; this waits for its write-back instead of failing every second.
        if (!_outbox.Online) return;
        try { _ = WriteHeartbeatAsync(_db).ContinueWith(t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted); }
        catch (Exception e) when (e is RedisException or TimeoutException) { return; }
        if (Interlocked.Exchange(ref _reclaiming, 1) == 0)
            _ = ReclaimAsync().ContinueWith(t =>
            {
                if (t.IsFaulted) _logger.LogWarning("reclaiming jobs of stopped instances failed: {Reason}", LogText.FirstLine(t.Exception!.GetBaseException().Message));
                Volatile.Write(ref _reclaiming, 0);
            }, TaskScheduler.Default);
    }

    /// <summary>This instance's heartbeat key (SPEC §3.2); also written back by the outbox after Redis lost its data.</summary>
    public Task WriteHeartbeatAsync(IDatabase db) =>
        db.StringSetAsync(_keys.Heartbeat, "1", TimeSpan.FromSeconds(_options.HeartbeatInterval.TotalSeconds * 3));

    /// <summary>
    /// The processing list of an instance whose heartbeat key expired (it crashed) is taken over: each job moves
    /// atomically into our own processing list, then goes back to the head of JOB_LIST, or to the dead-letter
    /// list when its dial_id was already dialled (SPEC §3.2).
    /// </summary>
    public async Task ReclaimAsync()
    {
        if (Stopping) return;
        foreach (var endpoint in _redis.GetEndPoints())
        {
            var server = _redis.GetServer(endpoint);
            if (!server.IsConnected || server.IsReplica) continue;
            await foreach (var key in server.KeysAsync(pattern: _keys.ProcessingPrefix + "*", pageSize: 200).ConfigureAwait(false))
            {
                var name = (string)key!;
                if (name == _keys.Processing) continue;
                var instance = name[_keys.ProcessingPrefix.Length..];
                if (await _db.KeyExistsAsync(_keys.HeartbeatPrefix + instance).ConfigureAwait(false)) continue;
                var moved = 0;
                while (!Stopping)
                {
                    var item = await _db.ListMoveAsync(name, _keys.Processing, ListSide.Left, ListSide.Right).ConfigureAwait(false);
                    if (item.IsNull) break;
                    moved++;
                    await ResumeInterruptedAsync((string)item!).ConfigureAwait(false);
                }
                if (moved > 0) _logger.LogWarning("took over {Count} job(s) of instance {Instance}, whose heartbeat expired", moved, instance);
            }
        }
    }

    /// <summary>What an earlier run of this instance left in its processing list is returned or dead-lettered.</summary>
    private async Task RecoverAsync()
    {
        var left = await _db.ListRangeAsync(_keys.Processing).ConfigureAwait(false);
        // Each job goes back to the head, so walk from the newest to keep the oldest first.
        foreach (var item in left.Reverse()) await ResumeInterruptedAsync((string)item!).ConfigureAwait(false);
        if (left.Length > 0) _logger.LogInformation("recovered {Count} job(s) left in {Key}", left.Length, _keys.Processing);
    }

    /// <summary>
    /// A job found in a processing list (ours after a restart, or a dead peer's): back to the head of JOB_LIST, or
    /// to the dead-letter list when its dial_id was already dialled (it may have rung; SPEC §3.2).
    /// </summary>
    private async Task ResumeInterruptedAsync(string raw)
    {
        var parsed = JobParser.Parse(raw);
        if (parsed.DialId is not null && await _db.KeyExistsAsync(RedisKeys.CallState(parsed.DialId)).ConfigureAwait(false))
        {
            // It became a call: the call's take-over settles it, never the dead-letter list (SPEC §8.1 "Jobs").
            await _db.ListRemoveAsync(_keys.Processing, raw, 1).ConfigureAwait(false);
            _logger.LogInformation("job of dial_id {DialId} settled: its call is taken over, not dialled again", parsed.DialId);
            return;
        }
        if (parsed.DialId is not null && await _db.KeyExistsAsync(RedisKeys.Dialled(parsed.DialId)).ConfigureAwait(false))
            await DeadLetterAsync(raw, "interrupted").ConfigureAwait(false);
        else
            await ReturnToHeadAsync(raw).ConfigureAwait(false);
    }

    private async Task LoopAsync()
    {
        var blockDb = _blocking.GetDatabase();
        var failures = 0;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await _links.WaitAnyUpAsync(_stop.Token).ConfigureAwait(false);
                // No new call while this instance's lease is in doubt (SPEC §8.1): it might not be able to keep it.
                while (_ctx.LeaseLapsed()) await Task.Delay(200, _stop.Token).ConfigureAwait(false);
                await _slots.WaitAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) { break; }

            RedisResult result;
            try
            {
                result = await blockDb.ExecuteAsync("BLMOVE",
                    [(RedisKey)_keys.JobList, (RedisKey)_keys.Processing, "LEFT", "RIGHT", _options.BlockSeconds]).ConfigureAwait(false);
                failures = 0;
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                _slots.Release();
                _metrics.RedisErrors.Inc();
                _logger.LogWarning("taking jobs failed: {Reason}", e.Message);
                try { await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 100 * (1 << Math.Min(++failures, 6)))), _stop.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) { break; }
                continue;
            }
            if (result.IsNull)
            {
                _slots.Release();
                continue;
            }
            var raw = (string)result!;
            _metrics.JobsTaken.Inc();
            if (_stop.IsCancellationRequested || !_links.AnyUp)
            {
                try
                {
                    await ReturnToHeadAsync(raw).ConfigureAwait(false);
                }
                catch (Exception e) when (e is RedisException or TimeoutException)
                {
                    // It stays in the processing list, which a restart recovers.
                    _metrics.RedisErrors.Inc();
                    if (JobParser.Parse(raw).DialId is { } dialId)
                        _logger.LogWarning("returning the job of dial_id {DialId} to {Key} failed: {Reason}; it stays in {Processing}", dialId, _keys.JobList, e.Message, _keys.Processing);
                    else
                        _logger.LogWarning("returning a job to {Key} failed: {Reason}; it stays in {Processing}", _keys.JobList, e.Message, _keys.Processing);
                }

                _slots.Release();
                continue;
            }
            Interlocked.Increment(ref _inFlight);
            _ = HandleAsync(raw).ContinueWith(t =>
            {
                if (t.IsFaulted) LogHandlingFailed(t.Exception!.GetBaseException(), raw);
                Interlocked.Decrement(ref _inFlight);
                _slots.Release();
            }, TaskScheduler.Default);
        }
    }

    /// <summary>A fault (a bug, not a Redis outage) while taking a job: logged with the job's dial_id when it has one.</summary>
    private void LogHandlingFailed(Exception e, string raw)
    {
        if (JobParser.Parse(raw).DialId is { } dialId) _logger.LogError(e, "job handling failed for dial_id {DialId}", dialId);
        else _logger.LogError(e, "job handling failed (the job has no dial_id)");
    }

    private async Task HandleAsync(string raw)
    {
        string? marked = null; // the dialled mark, once this instance set it
        try
        {
            await TakeAsync(raw, m => marked = m).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // Nothing was dialled (every Redis step comes before the originate): the job goes back once Redis is
            // there again; the outbox keeps the write meanwhile.
            _metrics.RedisErrors.Inc();
            if (JobParser.Parse(raw).DialId is { } dialId)
                _logger.LogWarning("the job of dial_id {DialId} could not be taken ({Reason}); it goes back to {Key} when Redis answers", dialId, LogText.FirstLine(e.Message), _keys.JobList);
            else
                _logger.LogWarning("a job could not be taken ({Reason}); it goes back to {Key} when Redis answers", LogText.FirstLine(e.Message), _keys.JobList);
            _outbox.Detached().Enqueue(new ReturnJobWrite(_keys, raw, marked));
        }
    }

    private async Task TakeAsync(string raw, Action<string> marked)
    {
        var parsed = JobParser.Parse(raw);
        if (parsed.Job is null)
        {
            await RefuseAsync(raw, parsed.Cause!, parsed.DialId, parsed.OrgId, parsed.UserId).ConfigureAwait(false);
            return;
        }
        var job = parsed.Job;
        if (JobParser.IsExpired(job, _options.JobMaxAgeSeconds, DateTimeOffset.UtcNow))
        {
            await RefuseAsync(raw, "expired", job.DialId, job.OrgId, job.UserId).ConfigureAwait(false);
            return;
        }
        if (_registry.Contains(job.DialId) ||
            !await _db.StringSetAsync(RedisKeys.Dialled(job.DialId), _keys.InstanceId, TimeSpan.FromSeconds(RedisKeys.DialledTtl), When.NotExists).ConfigureAwait(false))
        {
            _logger.LogWarning("job for dial_id {DialId} dead-lettered: already dialled", job.DialId);
            DeadLetter(_outbox.Detached(), raw, "already dialled");
            return;
        }
        marked(RedisKeys.Dialled(job.DialId));

        var link = _links.Pick();
        if (link is null)
        {
            _outbox.Detached().Enqueue(new ReturnJobWrite(_keys, raw, RedisKeys.Dialled(job.DialId)));
            return;
        }
        // The subscription is made below, before the originate; the owner drops it EndedLinger after the call ended.
        ChannelMessageQueue? queue = null;
        var owner = new CallOwner(job, _ctx, link, () => queue?.UnsubscribeAsync() ?? Task.CompletedTask);
        if (!_registry.TryAdd(owner))
        {
            DeadLetter(_outbox.Detached(), raw, "already dialled");
            return;
        }
        _metrics.CallsLive.Inc();
        _ = owner.Ended.ContinueWith(_ => _metrics.CallsLive.Dec(), TaskScheduler.Default);

        // Subscribe before originating, so a hangup sent while the phone rings is seen (SPEC §3.3).
        try
        {
            queue = await _redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(job.DialId)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // Nothing was dialled: undo the owner and the marker, and put the job back, or it
            // would count as a live call for ever and sit in the processing list.
            _logger.LogWarning("subscribing to {DialId} failed ({Reason}); the job goes back to {Key}", job.DialId, LogText.FirstLine(e.Message), _keys.JobList);
            owner.ForceEndSilently();
            _registry.Remove(owner);
            _outbox.Detached().Enqueue(new ReturnJobWrite(_keys, raw, RedisKeys.Dialled(job.DialId)));
            return;
        }

        // From here on every write of the call, its job's settlement included, goes through its lane, in order.
        var lane = _outbox.Track(job.DialId, job.OrgId, job.UserId, raw);
        lane.Own(_keys.InstanceId, owner.Epoch);
        // The state hash and the index entry are confirmed before the originate (SPEC §8.1): whoever takes the call
        // over finds it, even when this instance dies the moment the command is out.
        List<(string Field, string Value)> state =
        [
            (CallState.Owner, _keys.InstanceId), (CallState.Epoch, CallState.Number(owner.Epoch)), (CallState.Node, link.Node.ToString()),
            (CallState.Core, link.CoreUuid ?? ""), (CallState.Job, raw), .. owner.InitialState(),
            (CallState.TakenAt, CallState.Number(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())),
        ];
        try
        {
            await Task.WhenAll(_db.SetAddAsync(RedisKeys.Owned(_keys.InstanceId), job.DialId), new StateWrite(job.DialId, state).SendAsync(_db, retry: false)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            _metrics.RedisErrors.Inc();
            _logger.LogWarning("saving the state of {DialId} failed ({Reason}); the job goes back to {Key}", job.DialId, LogText.FirstLine(e.Message), _keys.JobList);
            owner.ForceEndSilently();
            await queue.UnsubscribeAsync().ConfigureAwait(false);
            _registry.Remove(owner);
            lane.Enqueue(new ReturnJobWrite(_keys, raw, RedisKeys.Dialled(job.DialId)));
            lane.Enqueue(new StateDelete(job.DialId));
            return;
        }
        foreach (var (field, value) in state) lane.Confirm(field, value);
        CallChannel.Route(queue, job.DialId, () => lane, () => owner, _logger);
        var started = owner.Start(settlement =>
        {
            if (settlement == JobSettlement.Done)
            {
                lane.Enqueue(new JobDoneWrite(_keys, raw));
                return;
            }
            // The link dropped after the originate was written: FreeSWITCH may or may not have it.
            // The owner has published the failure; the job is kept in the dead list, not dropped.
            DeadLetter(lane, raw, "freeswitch link lost");
        });
        if (!started)
        {
            // The link went down between taking and sending: the job goes back untouched.
            owner.ForceEndSilently();
            await queue.UnsubscribeAsync().ConfigureAwait(false);
            _registry.Remove(owner);
            lane.Enqueue(new ReturnJobWrite(_keys, raw, RedisKeys.Dialled(job.DialId)));
            lane.Enqueue(new StateDelete(job.DialId));
        }
    }

    private async Task RefuseAsync(string raw, string cause, string? dialId, string? orgId, string? userId)
    {
        _metrics.JobsFailed.WithLabels(cause).Inc(); // a fixed set: invalid json, unknown type, missing/invalid <field>, expired
        var publish = dialId is not null && !_registry.Contains(dialId) &&
                      !await _db.KeyExistsAsync(RedisKeys.Dialled(dialId)).ConfigureAwait(false);
        if (dialId is null) _logger.LogWarning("job refused ({Cause}); it has no dial_id", cause);
        else _logger.LogWarning("job refused ({Cause}) for dial_id {DialId}", cause, dialId);
        var lane = _outbox.Detached();
        DeadLetter(lane, raw, cause);
        if (publish) lane.Enqueue(new RefusalWrite(dialId!, orgId, userId, Json.JobFailure(cause)));
    }

    private void DeadLetter(OutboxLane lane, string raw, string cause)
    {
        if (lane.Enqueue(new DeadLetterWrite(_keys, raw, cause, DateTimeOffset.UtcNow.ToUnixTimeSeconds()))) _metrics.JobsDeadLettered.Inc();
    }

    // Recovery and the loop's give-back await the same writes the outbox sends (the job is in the processing list).
    private async Task DeadLetterAsync(string raw, string cause)
    {
        await new DeadLetterWrite(_keys, raw, cause, DateTimeOffset.UtcNow.ToUnixTimeSeconds()).SendAsync(_db, retry: false).ConfigureAwait(false);
        _metrics.JobsDeadLettered.Inc();
    }

    private Task ReturnToHeadAsync(string raw) => new ReturnJobWrite(_keys, raw, dialledMark: null).SendAsync(_db, retry: false);

    /// <summary>Stops taking jobs; a BLMOVE in flight returns within BlockSeconds and its job goes back.</summary>
    public async Task StopTakingAsync()
    {
        _stop.Cancel();
        if (_loop is not null) await _loop.ConfigureAwait(false);
        while (Volatile.Read(ref _inFlight) > 0) await Task.Delay(20).ConfigureAwait(false);
        if (_heartbeat is not null) await _heartbeat.DisposeAsync().ConfigureAwait(false);
    }

    public async Task RemoveHeartbeatAsync()
    {
        try { await _db.KeyDeleteAsync(_keys.Heartbeat).ConfigureAwait(false); }
        catch (RedisException) { /* stopping anyway */ }
    }
}
