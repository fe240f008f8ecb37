using System.Diagnostics;
using Redswitch.Calls;
using Redswitch.Calls.Jobs;

namespace Redswitch.Server.Calls;

/// <summary>The call's Redis writes: events, replies and its state hash, as SPEC §4/§5/§8 write them.</summary>
public sealed partial class CallOwner
{
    // ------------------------------------------------------------------ effects: Redis

    // Every write goes into the call's outbox lane: none of these blocks or throws, whatever Redis does (SPEC §4).

    void ICallEffects.Publish(CallEvent evt)
    {
        var job = _machine.Job;
        switch (evt)
        {
            case CallStarted:
                _ctx.Publisher.Start(DialId, job.OrgId, job.UserId, Json.CallStart(DialId));
                break;
            case SideAnswered a:
                _ctx.Publisher.SideEvent(DialId, job.OrgId, job.UserId, a.Side, active: true, Json.Answer(a.Side));
                break;
            case SideHungUp h:
                if (h.WasAnswered) _ctx.Publisher.SideEvent(DialId, job.OrgId, job.UserId, h.Side, active: false, Json.Hangup(h.Side, h.Cause));
                else _ctx.Publisher.Event(DialId, job.OrgId, job.UserId, Json.Hangup(h.Side, h.Cause), CallState.HungUp(h.Side));
                _ctx.Metrics.HangupsByCause.WithLabels(h.Side.ToString(), h.Cause).Inc();
                break;
            case CallFailed f:
                _ctx.Metrics.JobsFailed.WithLabels(f.LinkLost ? f.Cause : "refused").Inc();
                Log(CallLogLevel.Warning, f.LinkLost ? "FreeSWITCH never confirmed the call: {Cause}" : "FreeSWITCH refused the call: {Cause}", f.Cause);
                _ctx.Publisher.Event(DialId, job.OrgId, job.UserId, Json.JobFailure(f.Cause));
                break;
        }
    }

    void ICallEffects.Reply(ControlReply reply)
    {
        string json, result;
        var type = reply.Type;
        switch (reply.Kind)
        {
            case ReplyKind.Ack:
                _ctx.Metrics.ControlLatency.Observe(Stopwatch.GetElapsedTime(reply.ReceivedAt).TotalSeconds);
                (json, result) = (Json.Ack(type, reply.Id), "ack");
                break;
            case ReplyKind.Invalid:
                (type, json, result) = ("unknown", Json.ControlFailure("unknown", reply.Cause!, reply.Id), "invalid");
                break;
            default:
                (json, result) = (Json.ControlFailure(type, reply.Cause!, reply.Id), "failure");
                break;
        }
        _ctx.Metrics.ControlMessages.WithLabels(KnownType(type), result).Inc();
        _ctx.Publisher.Reply(DialId, json);
    }

    private static string KnownType(string type) =>
        type is "hangup" or "barge" or "whisper" or "mute" or "threeway" or "unthreeway" ? type : "other";

    void ICallEffects.SaveState(IReadOnlyList<(string Field, string Value)> fields)
    {
        _ctx.Publisher.SaveState(DialId, [.. fields.Select(f => (f.Field, (string?)f.Value))]);
    }

    void ICallEffects.DeleteState()
    {
        _ctx.Publisher.DeleteState(DialId);
    }
}
