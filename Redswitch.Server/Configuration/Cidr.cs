using System.Net;
using System.Net.Sockets;

namespace Redswitch.Server.Configuration;

/// <summary>An IPv4 or IPv6 network in CIDR notation; a bare address is a /32 or /128.</summary>
public sealed class Cidr
{
    private readonly byte[] _network;
    private readonly int _prefix;

    public AddressFamily Family { get; }

    private Cidr(IPAddress address, int prefix)
    {
        Family = address.AddressFamily;
        _network = address.GetAddressBytes();
        _prefix = prefix;
        Mask(_network, prefix);
    }

    public static bool TryParse(string text, out Cidr? cidr)
    {
        cidr = null;
        var slash = text.IndexOf('/');
        var addrText = slash >= 0 ? text[..slash] : text;
        if (!IPAddress.TryParse(addrText, out var address)) return false;
        var max = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        var prefix = max;
        if (slash >= 0 && (!int.TryParse(text[(slash + 1)..], System.Globalization.NumberStyles.None, null, out prefix) || prefix > max))
            return false;
        cidr = new Cidr(address, prefix);
        return true;
    }

    public static Cidr Of(IPAddress address) => new(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);

    public bool Contains(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6 && Family == AddressFamily.InterNetwork) address = address.MapToIPv4();
        if (address.AddressFamily != Family) return false;
        var bytes = address.GetAddressBytes();
        Mask(bytes, _prefix);
        return bytes.AsSpan().SequenceEqual(_network);
    }

    private static void Mask(byte[] bytes, int prefix)
    {
        for (var i = 0; i < bytes.Length; i++)
        {
            var bits = Math.Clamp(prefix - i * 8, 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - bits));
        }
    }

    public override string ToString() => $"{new IPAddress(_network)}/{_prefix}";
}
