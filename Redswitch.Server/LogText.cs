using System.Net;
using System.Net.Sockets;

namespace Redswitch.Server;

/// <summary>Text for log lines.</summary>
internal static class LogText
{
    /// <summary>The first line of a client library's message: the rest is advice for its own developers.</summary>
    public static string FirstLine(string s)
    {
        var i = s.IndexOfAny(['\r', '\n']);
        return i < 0 ? s : s[..i];
    }

    /// <summary>Why a listening socket could not be opened on <paramref name="at"/>, in an operator's words.</summary>
    public static string ListenFailure(Exception e, IPEndPoint at)
    {
        if (Find<SocketException>(e) is { } s)
            return s.SocketErrorCode switch
            {
                SocketError.AddressNotAvailable => $"{at.Address} is not an address of this host",
                SocketError.AddressAlreadyInUse => $"port {at.Port} is already in use",
                SocketError.AccessDenied => $"permission denied (port {at.Port} may need privileges)",
                _ => FirstLine(s.Message),
            };
        return FirstLine(e.GetBaseException().Message);
    }

    /// <summary>The first exception of type <typeparamref name="T"/> in <paramref name="e"/>'s chain of inner exceptions.</summary>
    public static T? Find<T>(Exception e) where T : Exception
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
            if (x is T t) return t;
        return null;
    }
}
