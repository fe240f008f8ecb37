using Redswitch.Protocol.Messages;
using Redswitch.Server.Esl;

namespace Redswitch.Server.Calls;

/// <summary>Hands what a control link reports to the calls it concerns.</summary>
public sealed class CallRouter(CallRegistry registry) : IControlLinkListener
{
    public void OnChannelEvent(InboundLink link, EslEvent evt) => registry.ByUuid(evt.UniqueId)?.OnInboundEvent(evt);

    /// <summary>Only calls placed before the link's return can have missed something.</summary>
    public void OnRestored(InboundLink link, bool freeswitchRestarted, int generation)
    {
        foreach (var owner in registry.All)
            if (owner.Link == link && owner.LinkGeneration < generation) owner.OnLinkRestored(freeswitchRestarted);
    }
}
