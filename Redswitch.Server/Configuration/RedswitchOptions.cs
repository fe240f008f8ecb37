using System.Collections;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using StackExchange.Redis;

namespace Redswitch.Server.Configuration;

public sealed record EslNode(string Host, int Port)
{
    public override string ToString() => $"{Host}:{Port}";
}

/// <summary>SPEC §2 <c>DRAIN_MODE</c>.</summary>
public enum DrainMode
{
    /// <summary>Live calls are released for a live peer to claim; nothing is hung up (SPEC §8.1 "Release").</summary>
    Handoff,
    /// <summary>Live calls are served until they end or DRAIN_TIMEOUT, then hung up with MANAGER_REQUEST.</summary>
    Hangup,
}

/// <summary>Every setting of SPEC §2, read from the environment and validated at start.</summary>
public sealed class RedswitchOptions
{
    public IReadOnlyList<EslNode> EslNodes { get; init; } = [new("127.0.0.1", 8021)];
    public string EslPassword { get; init; } = "ClueCon";
    public string RedisUrl { get; init; } = "redis://127.0.0.1:6379";
    public ConfigurationOptions Redis { get; init; } = new();
    public int RedisTimeoutSeconds { get; init; } = 10;
    /// <summary>Writes that may wait in memory while Redis is unreachable (SPEC §4).</summary>
    public int RedisOutboxLimit { get; init; } = 100_000;
    public IPEndPoint OutboundListen { get; init; } = new(IPAddress.Any, 8084);
    /// <summary>host:port for the socket app; null means "derive from the bound address".</summary>
    public string? OutboundAdvertise { get; init; }
    public IReadOnlyList<Cidr> OutboundAllow { get; init; } = [];
    public string JobList { get; init; } = "talkiq-asp.calls";
    public string DialTemplate { get; init; } = "sofia/gateway/{provider}/{number}";
    public string SipUriTemplate { get; init; } = "sofia/external/{number}";
    public int RingTimeoutSeconds { get; init; } = 45;

    /// <summary>What the dial strings take of this.</summary>
    public Redswitch.Calls.FreeSwitch.DialSettings Dial => new(DialTemplate, SipUriTemplate, RingTimeoutSeconds);
    public int JobMaxAgeSeconds { get; init; } = 120;
    public IPEndPoint MetricsListen { get; init; } = new(IPAddress.Any, 9464);
    /// <summary>Null means "host name - outbound port", filled in once the port is bound.</summary>
    public string? InstanceId { get; init; }
    public int DrainTimeoutSeconds { get; init; } = 30;
    /// <summary>What a stopping instance does with its live calls (SPEC §8 "Graceful stop").</summary>
    public DrainMode DrainMode { get; init; } = DrainMode.Handoff;
    /// <summary>Seconds an instance's lease in <c>{redswitch}.instances</c> lives (renewed every second; SPEC §8.1).</summary>
    public int InstanceLeaseSeconds { get; init; } = 6;
    public bool LogJson { get; init; }
    public bool LogPhoneNumbers { get; init; }

    // Internal tunables (not environment settings): tests shorten them.
    public TimeSpan ReconnectBase { get; init; } = TimeSpan.FromMilliseconds(250);
    public TimeSpan ReconnectCap { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan LinkSilenceTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>A node quiet this long is probed (<c>api uptime</c>).</summary>
    public TimeSpan ProbeInterval { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>A probe unanswered this long marks the node stalled (SPEC §7: noticed within 5 s).</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(2);
    public TimeSpan EndedLinger { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan SocketLinger { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>How long an answered caller's leg may take to reach the outbound server before it is hung up.</summary>
    public TimeSpan SocketConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);
    public int BlockSeconds { get; init; } = 2;
    public int MaxConcurrentJobs { get; init; } = 512;
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(10);

    public static readonly string[] Names =
    [
        "ESL_URL", "ESL_PORT", "ESL_PASSWORD", "PUBSUB_REDIS_URL", "PUBSUB_REDIS_TIMEOUT", "OUTBOUND_LISTEN",
        "OUTBOUND_ADVERTISE", "OUTBOUND_ALLOW", "JOB_LIST", "DIAL_TEMPLATE", "SIP_URI_TEMPLATE", "RING_TIMEOUT",
        "JOB_MAX_AGE", "METRICS_LISTEN", "INSTANCE_ID", "DRAIN_TIMEOUT", "LOG_FORMAT", "LOG_PHONE_NUMBERS",
        "REDIS_OUTBOX_LIMIT", "INSTANCE_LEASE", "DRAIN_MODE",
    ];

    public static RedswitchOptions FromEnvironment(out List<string> errors)
    {
        var env = new Dictionary<string, string?>();
        foreach (DictionaryEntry e in Environment.GetEnvironmentVariables())
            env[(string)e.Key] = (string?)e.Value;
        return Parse(env, out errors);
    }

    /// <summary>Reads the settings; every bad value adds one line naming the variable (never echoing secrets).</summary>
    public static RedswitchOptions Parse(IReadOnlyDictionary<string, string?> env, out List<string> errors)
    {
        var errs = new List<string>();
        string? Get(string name) => env.TryGetValue(name, out var v) && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;

        int Int(string name, int def, int min, int max)
        {
            var v = Get(name);
            if (v is null) return def;
            if (!int.TryParse(v, System.Globalization.NumberStyles.None, null, out var n) || n < min || n > max)
            {
                errs.Add($"{name}={Show(v)}: must be an integer from {min} to {max}");
                return def;
            }
            return n;
        }

        var eslPort = Int("ESL_PORT", 8021, 1, 65535);
        var nodes = new List<EslNode>();
        var eslUrl = Get("ESL_URL") ?? "127.0.0.1";
        foreach (var item in eslUrl.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (Redswitch.Server.Configuration.RedisUrl.TryParseHostPort(item, eslPort, out var h, out var p, out var e)) nodes.Add(new EslNode(h, p));
            else errs.Add($"ESL_URL={Show(item)}: {e}");
        }
        if (nodes.Count == 0 && errs.Count == 0) errs.Add("ESL_URL: names no FreeSWITCH host");

        var password = env.TryGetValue("ESL_PASSWORD", out var pw) && pw is not null ? pw : "ClueCon";
        if (password.Length == 0) errs.Add("ESL_PASSWORD: is empty");
        else if (password.Any(char.IsControl)) errs.Add("ESL_PASSWORD: contains a control character (value not shown)");

        var redisTimeout = Int("PUBSUB_REDIS_TIMEOUT", 10, 1, 3600);
        var outboxLimit = Int("REDIS_OUTBOX_LIMIT", 100_000, 1, 100_000_000);
        var redisUrl = Get("PUBSUB_REDIS_URL") ?? "redis://127.0.0.1:6379";
        if (!Redswitch.Server.Configuration.RedisUrl.TryParse(redisUrl, redisTimeout, out var redis, out var redisError))
            errs.Add($"PUBSUB_REDIS_URL={MaskUrl(redisUrl)}: {redisError}");

        IPEndPoint ParseEp(string name, string def)
        {
            var v = Get(name) ?? def;
            if (Redswitch.Server.Configuration.RedisUrl.TryParseIpEndPoint(v, out var ep, out var e)) return ep;
            errs.Add($"{name}={Show(v)}: {e}");
            return new IPEndPoint(IPAddress.Loopback, 0);
        }

        var outboundListen = ParseEp("OUTBOUND_LISTEN", "0.0.0.0:8084");
        var advertise = Get("OUTBOUND_ADVERTISE");
        if (advertise is not null && (!Redswitch.Server.Configuration.RedisUrl.TryParseHostPort(advertise, -1, out _, out var ap, out var ae) || ap < 0))
            errs.Add($"OUTBOUND_ADVERTISE={Show(advertise)}: {(ae.Length > 0 ? ae : "needs host:port")}");

        var allow = new List<Cidr>();
        var allowText = Get("OUTBOUND_ALLOW");
        if (allowText is not null)
        {
            foreach (var item in allowText.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (Cidr.TryParse(item, out var c)) allow.Add(c!);
                else errs.Add($"OUTBOUND_ALLOW={Show(item)}: not a CIDR (like 10.0.0.0/8 or 127.0.0.1)");
            }
        }
        else
        {
            allow.Add(Cidr.TryParse("127.0.0.0/8", out var l4) ? l4! : throw new InvalidOperationException());
            allow.Add(Cidr.Of(IPAddress.IPv6Loopback));
            foreach (var n in nodes)
            {
                if (IPAddress.TryParse(n.Host, out var ip)) allow.Add(Cidr.Of(ip));
                else
                {
                    try { foreach (var a in Dns.GetHostAddresses(n.Host)) allow.Add(Cidr.Of(a)); }
                    catch (SocketException) { errs.Add($"ESL_URL={Show(n.Host)}: host name does not resolve (needed for the default OUTBOUND_ALLOW)"); }
                }
            }
        }

        var jobList = Get("JOB_LIST") ?? "talkiq-asp.calls";
        if (jobList.Any(ch => char.IsControl(ch) || ch is '{' or '}' || char.IsWhiteSpace(ch)))
            errs.Add($"JOB_LIST={Show(jobList)}: must not contain braces, spaces or control characters");

        var dialTemplate = Get("DIAL_TEMPLATE") ?? "sofia/gateway/{provider}/{number}";
        if (!dialTemplate.Contains("{number}")) errs.Add($"DIAL_TEMPLATE={Show(dialTemplate)}: must contain {{number}}");
        else if (dialTemplate.Any(ch => char.IsControl(ch) || char.IsWhiteSpace(ch))) errs.Add($"DIAL_TEMPLATE={Show(dialTemplate)}: must not contain spaces or control characters");
        var sipTemplate = Get("SIP_URI_TEMPLATE") ?? "sofia/external/{number}";
        if (!sipTemplate.Contains("{number}")) errs.Add($"SIP_URI_TEMPLATE={Show(sipTemplate)}: must contain {{number}}");
        else if (sipTemplate.Any(ch => char.IsControl(ch) || char.IsWhiteSpace(ch))) errs.Add($"SIP_URI_TEMPLATE={Show(sipTemplate)}: must not contain spaces or control characters");

        var ring = Int("RING_TIMEOUT", 45, 1, 3600);
        var maxAge = Int("JOB_MAX_AGE", 120, 1, 86400 * 365);
        var metrics = ParseEp("METRICS_LISTEN", "0.0.0.0:9464");
        var instance = Get("INSTANCE_ID");
        if (instance is not null && !instance.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '_' or '-' or ':' or '.'))
            errs.Add($"INSTANCE_ID={Show(instance)}: only letters, digits and _ - : . are allowed");
        var drain = Int("DRAIN_TIMEOUT", 30, 0, 86400);
        var lease = Int("INSTANCE_LEASE", 6, 2, 3600);
        var drainModeText = (Get("DRAIN_MODE") ?? "handoff").ToLowerInvariant();
        if (drainModeText is not ("handoff" or "hangup")) errs.Add($"DRAIN_MODE={Show(drainModeText)}: must be handoff or hangup");

        var logFormat = (Get("LOG_FORMAT") ?? "text").ToLowerInvariant();
        if (logFormat is not ("text" or "json")) errs.Add($"LOG_FORMAT={Show(logFormat)}: must be text or json");
        var logPhones = (Get("LOG_PHONE_NUMBERS") ?? "false").ToLowerInvariant();
        if (logPhones is not ("true" or "false" or "1" or "0" or "yes" or "no")) errs.Add($"LOG_PHONE_NUMBERS={Show(logPhones)}: must be true or false");

        errors = errs;
        return new RedswitchOptions
        {
            EslNodes = nodes,
            EslPassword = password,
            RedisUrl = redisUrl,
            Redis = redis,
            RedisTimeoutSeconds = redisTimeout,
            RedisOutboxLimit = outboxLimit,
            OutboundListen = outboundListen,
            OutboundAdvertise = advertise,
            OutboundAllow = allow,
            JobList = jobList,
            DialTemplate = dialTemplate,
            SipUriTemplate = sipTemplate,
            RingTimeoutSeconds = ring,
            JobMaxAgeSeconds = maxAge,
            MetricsListen = metrics,
            InstanceId = instance,
            DrainTimeoutSeconds = drain,
            DrainMode = drainModeText == "hangup" ? DrainMode.Hangup : DrainMode.Handoff,
            InstanceLeaseSeconds = lease,
            LogJson = logFormat == "json",
            LogPhoneNumbers = logPhones is "true" or "1" or "yes",
        };
    }

    /// <summary>The socket app's address: OUTBOUND_ADVERTISE, else the bound address, else a single local address.</summary>
    public string ResolveAdvertise(int boundPort, out string? error)
    {
        error = null;
        if (OutboundAdvertise is not null) return OutboundAdvertise;
        var ip = OutboundListen.Address;
        if (!ip.Equals(IPAddress.Any) && !ip.Equals(IPAddress.IPv6Any)) return $"{ip}:{boundPort}";
        if (EslNodes.All(n => IPAddress.TryParse(n.Host, out var a) ? IPAddress.IsLoopback(a) : n.Host == "localhost"))
            return $"127.0.0.1:{boundPort}";
        var addresses = NetworkInterface.GetAllNetworkInterfaces()
            .Where(i => i.OperationalStatus == OperationalStatus.Up)
            .SelectMany(i => i.GetIPProperties().UnicastAddresses)
            .Select(u => u.Address)
            .Where(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
            .Distinct().ToList();
        if (addresses.Count == 1) return $"{addresses[0]}:{boundPort}";
        error = $"OUTBOUND_ADVERTISE: required because OUTBOUND_LISTEN is {OutboundListen} and this host has {addresses.Count} addresses";
        return "";
    }

    private static string Show(string value)
    {
        var s = value.Length > 80 ? value[..80] + "…" : value;
        return "\"" + new string(s.Select(ch => char.IsControl(ch) ? '?' : ch).ToArray()) + "\"";
    }

    /// <summary>A Redis URL with its password replaced, for error lines.</summary>
    public static string MaskUrl(string url)
    {
        var parts = url.Split(',');
        for (var i = 0; i < parts.Length; i++)
        {
            var p = parts[i];
            var scheme = p.IndexOf("://", StringComparison.Ordinal);
            var at = p.LastIndexOf('@');
            if (scheme >= 0 && at > scheme)
            {
                var userInfo = p[(scheme + 3)..at];
                var colon = userInfo.IndexOf(':');
                var user = colon >= 0 ? userInfo[..colon] : "";
                parts[i] = p[..(scheme + 3)] + (user.Length > 0 ? user + ":" : "") + "***" + p[at..];
            }
        }
        return Show(string.Join(',', parts));
    }
}
