using Redswitch.Protocol.Messages;
using Redswitch.Server.Configuration;

namespace Redswitch.Server.Esl;

/// <summary>The inbound control link to one FreeSWITCH node, as a call uses it.</summary>
public interface IControlLink
{
    EslNode Node { get; }
    bool IsUp { get; }

    /// <summary>The node's Core-UUID as read on the current connection (<c>global_getvar core_uuid</c>); null when unknown.</summary>
    string? CoreUuid => null;

    /// <summary>Counts authenticated connections: a call started on this generation needs no check after a loss before it.</summary>
    int Generation { get; }

    /// <summary>False when the link is down (nothing was sent); else the reply, or null when the connection closed first.</summary>
    bool TryApi(string command, Action<EslMessage?> onReply);

    /// <summary><c>bgapi</c> with our Job-UUID; <paramref name="onJob"/> gets its BACKGROUND_JOB, also after a reconnect.</summary>
    bool TryBgApi(string command, string jobUuid, Action<EslMessage?> onReply, Action<EslEvent> onJob);

    void ForgetJob(string jobUuid);

    /// <summary>Delivers this leg's channel events from now on (<c>filter Unique-ID</c>, put back on every reconnect).</summary>
    void Follow(string uuid);

    void Unfollow(string uuid);

    /// <summary>Live calls placed on this node (new calls go to the node with the fewest).</summary>
    void CallPlaced();

    void CallEnded();
}

/// <summary>The caller's outbound socket, as a call uses it.</summary>
public interface ICallSocket
{
    /// <summary>False when the connection is already closed; <paramref name="flush"/> false (on its event loop only) waits for the next flushed command.</summary>
    bool TrySend(EslCommand command, Action<EslMessage?>? onReply = null, bool flush = true);

    void Close();
}

/// <summary>What a control link reports to the calls.</summary>
public interface IControlLinkListener
{
    /// <summary>An event of a followed leg (CHANNEL_ANSWER, CHANNEL_HANGUP_COMPLETE, DTMF).</summary>
    void OnChannelEvent(InboundLink link, EslEvent evt);

    /// <summary>Authenticated again after a loss: whether FreeSWITCH restarted meanwhile, and the new generation.</summary>
    void OnRestored(InboundLink link, bool freeswitchRestarted, int generation);
}
