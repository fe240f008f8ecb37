using System.Net;
using StackExchange.Redis;
using Redswitch.Server.Configuration;
using Redswitch.Server.Redis;

namespace Redswitch.Server.Cli;

/// <summary>
/// What every verb reads: the service's own environment (SPEC §2), parsed by the same code, so a verb run beside an
/// instance (same container, same variables) talks to the same Redis, job list and FreeSWITCH nodes.
/// </summary>
internal sealed class CliEnvironment
{
    public RedswitchOptions Options { get; }
    public RedisKeys Keys { get; }

    private CliEnvironment(RedswitchOptions options)
    {
        Options = options;
        Keys = new RedisKeys(options.JobList, options.InstanceId ?? "cli");
    }

    public static CliEnvironment Load()
    {
        var options = RedswitchOptions.FromEnvironment(out var errors);
        if (errors.Count > 0)
            throw new CliException("bad configuration: " + errors[0] + (errors.Count > 1 ? $" (and {errors.Count - 1} more)" : ""));
        return new CliEnvironment(options);
    }

    public string RedisName => RedswitchOptions.MaskUrl(Options.RedisUrl).Trim('"');

    /// <summary>Connects within PUBSUB_REDIS_TIMEOUT or says, in one line, why not.</summary>
    public async Task<ConnectionMultiplexer> ConnectRedisAsync()
    {
        var config = Options.Redis.Clone();
        config.AbortOnConnectFail = true; // a verb answers now; retrying in the background is the service's business
        config.ConnectRetry = 1;
        config.ClientName = "redswitch-cli";
        config.ConnectTimeout = Options.RedisTimeoutSeconds * 1000;
        config.SyncTimeout = config.AsyncTimeout = Math.Max(5000, config.ConnectTimeout);
        try
        {
            return await ConnectionMultiplexer.ConnectAsync(config, TextWriter.Null).ConfigureAwait(false);
        }
        catch (RedisConnectionException e)
        {
            throw new CliException($"cannot connect to Redis at {RedisName} (PUBSUB_REDIS_URL): {await WhyAsync(e).ConfigureAwait(false)}");
        }
    }

    // The client's own message is advice for its developers ("use abortConnect=false"); say what happened instead.
    private async Task<string> WhyAsync(RedisConnectionException e)
    {
        if (e.FailureType == ConnectionFailureType.AuthenticationFailure)
            return "authentication failed (the user or password in PUBSUB_REDIS_URL)";
        // the start-up's own probe: a refusal, silence or a name that does not resolve, in the service's words
        var limit = TimeSpan.FromSeconds(Math.Min(5, Options.RedisTimeoutSeconds));
        foreach (var ep in Options.Redis.EndPoints)
            if (await RedisConnect.ProbeAsync(ep, limit, CancellationToken.None).ConfigureAwait(false) is { } closed)
                return $"{RedisConnect.Show(ep)}: {closed}";
        return e.FailureType switch
        {
            ConnectionFailureType.UnableToConnect or ConnectionFailureType.SocketFailure =>
                $"it accepts connections but did not answer as Redis within {Options.RedisTimeoutSeconds} s (PUBSUB_REDIS_TIMEOUT; TLS or password wrong?)",
            _ => e.FailureType.ToString(),
        };
    }

    /// <summary>METRICS_LISTEN alone, parsed as the service parses it.</summary>
    public static Uri MetricsUriFromEnvironment()
    {
        var value = Environment.GetEnvironmentVariable("METRICS_LISTEN") is { Length: > 0 } v ? v.Trim() : "0.0.0.0:9464";
        if (!RedisUrl.TryParseIpEndPoint(value, out var ep, out var error))
            throw new CliException($"bad configuration: METRICS_LISTEN={value}: {error}");
        return MetricsUriOf(ep);
    }

    /// <summary>The address of this instance's /metrics, /healthz, /readyz (METRICS_LISTEN; a wildcard means this host).</summary>
    public Uri MetricsUri => MetricsUriOf(Options.MetricsListen);

    private static Uri MetricsUriOf(IPEndPoint ep)
    {
        var host = ep.Address.Equals(IPAddress.Any) ? "127.0.0.1"
            : ep.Address.Equals(IPAddress.IPv6Any) ? "[::1]"
            : ep.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{ep.Address}]" : ep.Address.ToString();
        return new Uri($"http://{host}:{ep.Port}/");
    }
}
