using Redswitch.Calls;
using Redswitch.Server.Redis.Outbox;
using Redswitch.Server.Redis.Outbox.Writes;

namespace Redswitch.Server.Redis;

/// <summary>
/// A call's Redis writes (SPEC §4, §5, §8): events on the dial_id channel with their history and active-list
/// bookkeeping, replies, the state hash. Each goes into the call's outbox lane, so none of these methods blocks or
/// throws, whatever Redis does; the order of the calls is the order Redis sees.
/// </summary>
public interface ICallPublisher
{
    /// <summary>An event of a side that never answered, or the call's failure: history (when the user is known), then PUBLISH.</summary>
    /// <param name="mark">The state-hash field that records the event went out (SPEC §8.1), if any.</param>
    void Event(string dialId, string? orgId, string? userId, string json, string mark = "");
    /// <summary>A reply (ack or control failure): PUBLISH only.</summary>
    void Reply(string dialId, string json);
    /// <summary>Fields of the call's state hash (SPEC §8.1); null values are left out.</summary>
    void SaveState(string dialId, params (string Field, string? Value)[] fields);
    void DeleteState(string dialId);
    /// <summary>The call released for a peer (SPEC §8.1 "Release"), behind its earlier writes; <paramref name="released"/> once Redis has it.</summary>
    void Release(string dialId, Action released);

    /// <summary>call-start: the user's history reset, PUBLISH, the history's first entry.</summary>
    void Start(string dialId, string orgId, string userId, string json);
    /// <summary>
    /// A side's answer-event (<paramref name="active"/>: its ACTIVE entry added) or an answered side's hangup-event
    /// (entry removed). Either is recorded in the state hash as it goes out.
    /// </summary>
    void SideEvent(string dialId, string orgId, string userId, int side, bool active, string json);
}

public sealed class CallPublisher(RedisOutbox outbox, string instanceId) : ICallPublisher
{
    public void Start(string dialId, string orgId, string userId, string json) =>
        outbox.Lane(dialId).Enqueue(new CallEventWrite(dialId, orgId, userId, json, resetsHistory: true, ActiveChange.None, 0, CallState.Started));

    public void Event(string dialId, string? orgId, string? userId, string json, string mark = "") =>
        outbox.Lane(dialId).Enqueue(orgId is not null && userId is not null
            ? new CallEventWrite(dialId, orgId, userId, json, resetsHistory: false, ActiveChange.None, 0, mark)
            : new ReplyWrite(dialId, json, mark));

    public void SideEvent(string dialId, string orgId, string userId, int side, bool active, string json) =>
        outbox.Lane(dialId).Enqueue(new CallEventWrite(dialId, orgId, userId, json, resetsHistory: false,
            active ? ActiveChange.Add : ActiveChange.Remove, side, active ? CallState.Answered(side) : CallState.HungUp(side)));

    public void Reply(string dialId, string json) => outbox.Lane(dialId).Enqueue(new ReplyWrite(dialId, json));

    public void SaveState(string dialId, params (string Field, string? Value)[] fields)
    {
        var kept = new List<(string, string)>(fields.Length);
        foreach (var (f, v) in fields)
            if (v is not null) kept.Add((f, v));
        if (kept.Count > 0) outbox.Lane(dialId).Enqueue(new StateWrite(dialId, kept));
    }

    public void DeleteState(string dialId) => outbox.Lane(dialId).Enqueue(new StateDelete(dialId));

    public void Release(string dialId, Action released) => outbox.Lane(dialId).Enqueue(new StateRelease(dialId, instanceId, released));
}
