using System.Net;
using StackExchange.Redis;

namespace Redswitch.Server.Configuration;

/// <summary>Parses PUBSUB_REDIS_URL: <c>redis://[user:pass@]host:port[/db]</c>, <c>rediss://</c> for TLS, comma-separated seeds.</summary>
public static class RedisUrl
{
    public static bool TryParse(string value, int timeoutSeconds, out ConfigurationOptions options, out string error)
    {
        options = new ConfigurationOptions();
        error = "";
        var parts = value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0)
        {
            error = "is empty";
            return false;
        }
        foreach (var part in parts)
        {
            bool tls;
            string rest;
            if (part.StartsWith("redis://", StringComparison.OrdinalIgnoreCase)) { tls = false; rest = part[8..]; }
            else if (part.StartsWith("rediss://", StringComparison.OrdinalIgnoreCase)) { tls = true; rest = part[9..]; }
            else { error = "must start with redis:// or rediss://"; return false; }
            if (tls) options.Ssl = true;

            var at = rest.LastIndexOf('@');
            if (at >= 0)
            {
                var userInfo = rest[..at];
                rest = rest[(at + 1)..];
                var colon = userInfo.IndexOf(':');
                string? user = colon >= 0 ? userInfo[..colon] : null;
                var pass = colon >= 0 ? userInfo[(colon + 1)..] : userInfo;
                if (!string.IsNullOrEmpty(user)) options.User = Uri.UnescapeDataString(user);
                if (pass.Length > 0) options.Password = Uri.UnescapeDataString(pass);
            }
            var slash = rest.IndexOf('/');
            if (slash >= 0)
            {
                var db = rest[(slash + 1)..];
                rest = rest[..slash];
                if (db.Length > 0)
                {
                    if (!int.TryParse(db, out var dbIndex) || dbIndex < 0) { error = "has a database number that is not a non-negative integer"; return false; }
                    options.DefaultDatabase = dbIndex;
                }
            }
            if (!TryParseHostPort(rest, 6379, out var host, out var port, out var hpError)) { error = hpError; return false; }
            options.EndPoints.Add(host, port);
        }
        options.ConnectTimeout = timeoutSeconds * 1000;
        options.AbortOnConnectFail = false;
        options.ClientName = "redswitch";
        return true;
    }

    public static bool TryParseHostPort(string value, int defaultPort, out string host, out int port, out string error, bool allowZeroPort = false)
    {
        host = "";
        port = defaultPort;
        error = "";
        if (string.IsNullOrWhiteSpace(value)) { error = "has no host"; return false; }
        string portText = "";
        if (value.StartsWith('['))
        {
            var close = value.IndexOf(']');
            if (close < 0) { error = "has an unterminated [IPv6] host"; return false; }
            host = value[1..close];
            var after = value[(close + 1)..];
            if (after.Length > 0)
            {
                if (after[0] != ':') { error = "has garbage after the [IPv6] host"; return false; }
                portText = after[1..];
            }
        }
        else
        {
            var colon = value.LastIndexOf(':');
            if (colon >= 0 && value.IndexOf(':') == colon)
            {
                host = value[..colon];
                portText = value[(colon + 1)..];
            }
            else host = value;
        }
        if (host.Length == 0) { error = "has no host"; return false; }
        foreach (var ch in host)
            if (!(char.IsAsciiLetterOrDigit(ch) || ch is '.' or '-' or '_' or ':'))
            { error = "has an invalid host name"; return false; }
        if (portText.Length > 0 || value.EndsWith(':'))
        {
            if (!int.TryParse(portText, System.Globalization.NumberStyles.None, null, out port) || port < (allowZeroPort ? 0 : 1) || port > 65535)
            { error = allowZeroPort ? "has a port out of range (0-65535)" : "has a port out of range (1-65535)"; return false; }
        }
        return true;
    }

    public static bool TryParseIpEndPoint(string value, out IPEndPoint endPoint, out string error)
    {
        endPoint = new IPEndPoint(IPAddress.Loopback, 0);
        if (!TryParseHostPort(value, -1, out var host, out var port, out error, allowZeroPort: true)) return false;
        if (port < 0) { error = "needs ip:port"; return false; }
        if (!IPAddress.TryParse(host, out var ip)) { error = "needs an IP address, not a host name"; return false; }
        endPoint = new IPEndPoint(ip, port);
        return true;
    }
}
