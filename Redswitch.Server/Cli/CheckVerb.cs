using System.CommandLine;
using System.Net;
using StackExchange.Redis;
using Redswitch.Server.Redis;

namespace Redswitch.Server.Cli;

/// <summary>
/// <c>check</c>: Redis and every FreeSWITCH node, with the service's own settings and credentials, one line each
/// (SPEC §10). <c>check --local</c> is the container health check: this instance's <c>/healthz</c> only — alive, not
/// whether FreeSWITCH or Redis is up, so an outage does not get healthy instances restarted.
/// </summary>
internal static class CheckVerb
{
    public static Command Build()
    {
        var local = new Option<bool>("--local") { Description = "Only ask the instance on METRICS_LISTEN whether it is alive (/healthz): the container health check." };
        var seconds = new Option<double>("--seconds") { Description = "How long each check may take.", DefaultValueFactory = _ => 5 };
        var cmd = new Command("check", "Connect to Redis and to every FreeSWITCH node (ESL_URL) with the configured credentials and report each; exit 1 if any fails.")
        {
            local, seconds,
        };
        cmd.SetAction((r, ct) => Cli.Run("check", ct, async token =>
        {
            var limit = r.GetValue(seconds);
            if (limit <= 0) throw new CliException("--seconds must be positive", CliExit.Usage);
            // --local reads METRICS_LISTEN alone: a health check must not fail on a DNS outage or another setting
            return r.GetValue(local) ? await LocalAsync(CliEnvironment.MetricsUriFromEnvironment(), TimeSpan.FromSeconds(limit), token)
                : await AllAsync(CliEnvironment.Load(), TimeSpan.FromSeconds(limit), token);
        }));
        return cmd;
    }

    private static async Task<int> LocalAsync(Uri metrics, TimeSpan timeout, CancellationToken ct)
    {
        var url = new Uri(metrics, "/healthz");
        // no proxy: an http_proxy in the container's environment would take a loopback check elsewhere
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = timeout };
        try
        {
            using var response = await http.GetAsync(url, ct);
            if (response.StatusCode != HttpStatusCode.OK)
                throw new CliException($"{url} answered {(int)response.StatusCode}");
            Console.Out.WriteLine($"{url}: alive");
            return CliExit.Ok;
        }
        catch (HttpRequestException e)
        {
            throw new CliException($"{url}: {LogText.FirstLine(e.Message)} (METRICS_LISTEN)");
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new CliException($"{url}: no answer within {timeout.TotalSeconds:0} s");
        }
    }

    private static async Task<int> AllAsync(CliEnvironment env, TimeSpan timeout, CancellationToken ct)
    {
        var failed = 0;
        var nodes = env.Options.EslNodes.Select(n => (n, EslProbe.CheckAsync(n, env.Options.EslPassword, timeout, ct))).ToList();
        try
        {
            await using var redis = await env.ConnectRedisAsync();
            Console.Out.WriteLine($"redis {env.RedisName}: ok; {await RedisReportAsync(redis, env)}");
        }
        catch (CliException e)
        {
            failed++;
            Console.Out.WriteLine($"redis: FAILED: {e.Message}");
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            failed++;
            Console.Out.WriteLine($"redis {env.RedisName}: FAILED: connected, then: {LogText.FirstLine(e.Message)}");
        }
        foreach (var (node, check) in nodes)
        {
            var (ok, line) = await check;
            if (!ok) failed++;
            Console.Out.WriteLine($"freeswitch {node}: {(ok ? "ok; " + line : "FAILED: " + line)}");
        }
        if (failed == 0) return CliExit.Ok;
        Console.Error.WriteLine($"redswitch check: {failed} of {env.Options.EslNodes.Count + 1} failed");
        return CliExit.Failed;
    }

    private static async Task<string> RedisReportAsync(ConnectionMultiplexer redis, CliEnvironment env)
    {
        var db = redis.GetDatabase();
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        await db.PingAsync();
        var ping = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var servers = redis.GetServers();
        var version = servers.Length > 0 ? servers[0].Version.ToString() : "?";
        var mode = servers.Any(s => s.ServerType == ServerType.Cluster) ? $"cluster of {servers.Count(s => !s.IsReplica)} primaries" : "standalone";
        var nowMs = await CallsVerb.RedisNowMsAsync(db);
        var live = await db.SortedSetRangeByScoreAsync(RedisKeys.Instances, nowMs, double.PositiveInfinity);
        var jobs = await db.ListLengthAsync(env.Options.JobList);
        var dead = await db.ListLengthAsync(env.Keys.Dead);
        return $"Redis {version} {mode}, PING {ping:0.0} ms; {jobs} job(s) waiting in {env.Options.JobList}, {dead} dead-lettered; " +
            $"{live.Length} instance(s) live{(live.Length > 0 ? " (" + string.Join(", ", live.Take(10)) + (live.Length > 10 ? ", …" : "") + ")" : "")}";
    }
}
