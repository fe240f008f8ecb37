using StackExchange.Redis;
using Redswitch.Server.Redis.Outbox.Writes;

namespace Redswitch.Server.Redis.Outbox;

/// <summary>
/// One call's writes, in order (SPEC §4): one write in flight at a time, so a retry never lets a later write
/// overtake an earlier one; lanes do not wait for each other. It also keeps what Redis confirmed of the call — the
/// sequence number, state fields, answered sides, whether its job is settled — to write back after Redis lost its data.
/// </summary>
public sealed class OutboxLane
{
    private enum Pump { Idle, Running }

    /// <summary>Fenced: another owner holds the call; nothing more of this lane goes out.</summary>
    private enum Hold { Owned, Fenced }

    private readonly RedisOutbox _outbox;
    private readonly Queue<OutboxWrite> _queue = new();
    private Pump _pump;
    private Hold _hold;
    private long _nextSeq;

    internal OutboxLane(RedisOutbox outbox, string? dialId, string? orgId, string? userId, string? job)
    {
        _outbox = outbox;
        DialId = dialId;
        OrgId = orgId;
        UserId = userId;
        Job = job;
    }

    /// <summary>Null for a lane of writes that belong to no call (a refused job).</summary>
    public string? DialId { get; }
    public string? OrgId { get; }
    public string? UserId { get; }
    /// <summary>The job as it sits in the processing list, while the call owns it.</summary>
    public string? Job { get; }

    /// <summary>Who writes: every write queued carries (owner, epoch), and the scripts refuse it once another holds the call.</summary>
    public string Owner { get; private set; } = "";
    public long Epoch { get; private set; }

    public bool IsFenced
    {
        get { lock (_queue) return _hold == Hold.Fenced; }
    }

    /// <summary>
    /// The lane writes as (<paramref name="owner"/>, <paramref name="epoch"/>) from now on; a taken-over call's
    /// sequence continues after <paramref name="seq"/>, the last one its hash has.
    /// </summary>
    public void Own(string owner, long epoch, long seq = 0)
    {
        lock (_queue)
        {
            Owner = owner;
            Epoch = epoch;
            _hold = Hold.Owned;
            if (seq > _nextSeq) _nextSeq = seq;
            if (seq > ConfirmedSeq) ConfirmedSeq = seq;
        }
    }

    // What Redis confirmed (touched by the lane's pump only, read under the lane's lock for a write-back).
    internal long ConfirmedSeq;
    internal Dictionary<string, string>? Fields;
    internal int ActiveSides;
    internal bool JobSettled;
    /// <summary>The call is over for this instance in Redis: its state deleted at the end of its grace, or released to a peer.</summary>
    internal bool Finished;

    /// <summary>A field of the state hash Redis confirmed (written back after Redis lost its data).</summary>
    internal void Confirm(string field, string value) => (Fields ??= new Dictionary<string, string>(StringComparer.Ordinal))[field] = value;

    /// <summary>Queues <paramref name="write"/> behind the lane's earlier writes; false when the outbox is full (it is dropped).</summary>
    public bool Enqueue(OutboxWrite write)
    {
        lock (_queue)
        {
            if (_hold == Hold.Fenced || !_outbox.TryReserve(this, write)) return false;
            if (write.Sequenced) write.Seq = ++_nextSeq;
            write.Owner = Owner;
            write.Epoch = Epoch;
            _queue.Enqueue(write);
            if (_pump == Pump.Running) return true;
            _pump = Pump.Running;
        }
        _ = PumpAsync();
        return true;
    }

    /// <summary>The call is no longer this instance's: nothing queued goes out (the write in flight, if any, is fenced by Redis).</summary>
    internal void Drop()
    {
        OutboxWrite[] dropped;
        lock (_queue)
        {
            _hold = Hold.Fenced;
            // The head may be in flight: the pump releases it.
            dropped = _pump == Pump.Running ? _queue.Skip(1).ToArray() : _queue.ToArray();
            var head = _pump == Pump.Running && _queue.TryPeek(out var h) ? h : null;
            _queue.Clear();
            if (head is not null) _queue.Enqueue(head);
        }
        foreach (var w in dropped) _outbox.Release(this, w, WriteOutcome.Rejected);
    }

    /// <summary>
    /// A message on the call's channel, as the instance's own subscription delivers it: when it is the unconfirmed
    /// write at the head of the lane, that write was published (see <see cref="OutboxWrite.Heard"/>).
    /// </summary>
    public void Hear(string message)
    {
        lock (_queue)
        {
            if (_queue.TryPeek(out var head) && head.Sent && head.Published is { } p && string.Equals(p, message, StringComparison.Ordinal))
                head.Heard = true;
        }
    }

    private async Task PumpAsync()
    {
        var retry = false;
        while (true)
        {
            OutboxWrite write;
            lock (_queue)
            {
                if (!_queue.TryPeek(out write!))
                {
                    _pump = Pump.Idle;
                    _outbox.LaneIdle(this);
                    return;
                }
            }

            var online = _outbox.WhenOnline;
            if (!online.IsCompleted)
            {
                await online.ConfigureAwait(false);
                retry = true; // it may have gone out just before the connection dropped
            }

            WriteOutcome outcome;
            try
            {
                var restarts = _outbox.Restarts;
                write.RestartedSinceSent = write.Sent && write.SentInRestart != restarts;
                write.SentInRestart = restarts;
                write.Sent = true;
                var result = await write.SendAsync(_outbox.Database, retry).ConfigureAwait(false);
                outcome = result switch { WriteResult.Done => WriteOutcome.Done, WriteResult.Fenced => WriteOutcome.Fenced, _ => WriteOutcome.Stale };
            }
            catch (Exception e)
            {
                outcome = _outbox.Failed(this, write, e);
            }

            if (outcome == WriteOutcome.Retry)
            {
                retry = true;
                continue;
            }
            var dropped = 0;
            lock (_queue)
            {
                _queue.Dequeue();
                if (outcome == WriteOutcome.Done) write.Confirmed(this);
                if (outcome == WriteOutcome.Fenced)
                {
                    // Everything behind it belongs to an owner that is no longer one.
                    _hold = Hold.Fenced;
                    dropped = _queue.Count;
                    _queue.Clear();
                }
            }
            _outbox.Release(this, write, outcome);
            if (outcome == WriteOutcome.Done) write.AfterConfirmed();
            for (var i = 0; i < dropped; i++) _outbox.Release(this, write, WriteOutcome.Rejected);
            if (outcome == WriteOutcome.Fenced) _outbox.LaneFenced(this);
            retry = false;
        }
    }

    /// <summary>
    /// The call's confirmed state put back into a Redis that lost it (SPEC §8.1 "Redis lost its data"): state hash
    /// with its sequence number, active-list entries, the job in the processing list, the dialled mark.
    /// </summary>
    internal Task WriteBackAsync(IDatabase db, RedisKeys keys)
    {
        if (DialId is null || Finished || IsFenced) return Task.CompletedTask;
        var writes = new List<Task>(4);
        lock (_queue)
        {
            var args = new List<RedisValue> { RedisKeys.DialledTtl, ConfirmedSeq };
            foreach (var (f, v) in Fields ?? []) { args.Add(f); args.Add(v); }
            if (args.Count > 2 || ConfirmedSeq > 0)
                writes.Add(db.ScriptEvaluateAsync(OutboxScripts.RestoreState, OutboxScripts.StateKeys(DialId), [.. args]));
            for (var side = 0; side < 3 && OrgId is not null && UserId is not null; side++)
            {
                if ((ActiveSides & (1 << side)) == 0) continue;
                writes.Add(db.ScriptEvaluateAsync(OutboxScripts.ActiveAdd, OutboxScripts.ActiveKeys(DialId, OrgId, UserId),
                    [CallEventWrite.SideValue(side), RedisKeys.ActiveTtl]));
            }
            if (Job is not null && !JobSettled)
                writes.Add(db.ScriptEvaluateAsync(OutboxScripts.RestoreJob, OutboxScripts.RestoreJobKeys(keys), [Job]));
            writes.Add(db.StringSetAsync(RedisKeys.Dialled(DialId), keys.InstanceId, TimeSpan.FromSeconds(RedisKeys.DialledTtl)));
            if (Owner.Length > 0) writes.Add(db.SetAddAsync(RedisKeys.Owned(Owner), DialId));
        }
        return Task.WhenAll(writes);
    }
}

/// <summary>What the lane does with a write after one attempt.</summary>
public enum WriteOutcome
{
    Done,
    /// <summary>The gate refused it as older than what Redis has.</summary>
    Stale,
    /// <summary>Another owner holds the call (SPEC §8.1): dropped with everything behind it.</summary>
    Fenced,
    /// <summary>Redis refused the command itself (wrong type, script error…): logged, counted, dropped.</summary>
    Rejected,
    /// <summary>Redis unreachable (or not ready): wait until it is back, then send it again.</summary>
    Retry,
}
