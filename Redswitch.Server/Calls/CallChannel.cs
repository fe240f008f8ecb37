using Microsoft.Extensions.Logging;
using Redswitch.Server.Redis.Outbox;
using StackExchange.Redis;

namespace Redswitch.Server.Calls;

/// <summary>What arrives on a call's channel: the lane hears its own publications go out, the owner gets the rest.</summary>
public static class CallChannel
{
    /// <param name="lane">The call's lane, once it has one (a claim subscribes before it owns the call).</param>
    /// <param name="owner">The call's owner, once it has one.</param>
    public static void Route(ChannelMessageQueue queue, string dialId, Func<OutboxLane?> lane, Func<CallOwner?> owner, ILogger logger) =>
        queue.OnMessage(m =>
        {
            var payload = (string)m.Message!;
            lane()?.Hear(payload); // our own events come back here too: proof they went out
            try { owner()?.OnControl(payload); }
            catch (Exception e) { logger.LogError(e, "control message for {DialId} failed", dialId); }
        });
}
