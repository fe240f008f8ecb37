using System.Text.RegularExpressions;

namespace Redswitch.Server.Takeover;

/// <summary>
/// The socket app's host list (SPEC §8.1 "Calls being set up"): the owner's address first, then live peers'.
/// FreeSWITCH tries them in order, so a caller who answers after its owner died reaches a peer, which claims the call
/// on that connection.
/// </summary>
public static partial class SocketHosts
{
    /// <summary>Peers listed after the owner: enough to survive the owner and one more, short enough for the dial string.</summary>
    public const int MaxPeers = 2;

    /// <summary>
    /// A peer's address as it may go into the originate: <c>host:port</c> with nothing FreeSWITCH's argument parsing
    /// would read otherwise (quotes, spaces, the <c>|</c> separator). Addresses come from Redis, so they are checked
    /// like any input (SPEC §6).
    /// </summary>
    public static bool IsAddress(string? address) => address is { Length: > 0 and <= 255 } && Address().IsMatch(address);

    /// <summary><paramref name="own"/>, then each peer (not itself), separated by <c>|</c>.</summary>
    public static string List(string own, IReadOnlyList<string> peers)
    {
        if (peers.Count == 0) return own;
        var hosts = new List<string>(peers.Count + 1) { own };
        foreach (var p in peers)
            if (IsAddress(p) && !hosts.Contains(p, StringComparer.OrdinalIgnoreCase) && hosts.Count <= MaxPeers) hosts.Add(p);
        return string.Join('|', hosts);
    }

    [GeneratedRegex(@"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):[0-9]{1,5}$")]
    private static partial Regex Address();
}
