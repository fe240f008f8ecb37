namespace Redswitch.Server.Esl;

/// <summary>The inbound links, one per FreeSWITCH node; new calls go to the connected node with the fewest live calls.</summary>
public sealed class LinkPool(IReadOnlyList<InboundLink> links)
{
    public IReadOnlyList<InboundLink> Links => links;

    public bool AnyUp => links.Any(l => l.IsUp);

    public InboundLink? Pick()
    {
        InboundLink? best = null;
        foreach (var l in links)
            if (l.IsUp && (best is null || l.LiveCalls < best.LiveCalls)) best = l;
        return best;
    }

    public async Task WaitAnyUpAsync(CancellationToken ct)
    {
        if (AnyUp) return;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct);
        try { await Task.WhenAny(links.Select(l => l.WaitUpAsync(linked.Token))).ConfigureAwait(false); }
        finally { linked.Cancel(); }
        ct.ThrowIfCancellationRequested();
    }
}
