using System.Diagnostics;
using Redswitch.Server;
using Redswitch.Server.Redis;
using Redswitch.Tests.Infrastructure;
using StackExchange.Redis;

namespace Redswitch.Tests.Redis;

/// <summary>The start-up connection to Redis: PUBSUB_REDIS_TIMEOUT is spent before giving up, and the line says what happened.</summary>
[Category("e2e")]
public class RedisConnectTests
{
    private const string Setting = "PUBSUB_REDIS_URL=\"redis://test\"";

    private static ConfigurationOptions Options(int port, string? password = null)
    {
        var o = ConfigurationOptions.Parse($"127.0.0.1:{port}");
        o.Password = password;
        o.ConnectTimeout = 10_000;
        return o;
    }

    [Test]
    public void ARefusedConnectionIsTriedUntilTheTimeoutAndReportedAsRefused()
    {
        var port = FreePort.Get();
        var sw = Stopwatch.StartNew();
        var e = Assert.ThrowsAsync<StartupException>(() =>
            RedisConnect.ConnectAsync(Options(port), TimeSpan.FromSeconds(1.5), Stopwatch.GetTimestamp(), Setting, CancellationToken.None));
        Assert.That(sw.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(1.4)), "the whole allowance is used");
        Assert.That(sw.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)), "and not much more");
        Assert.That(e!.Message, Is.EqualTo($"{Setting}: Redis not reachable within 1.5 s (127.0.0.1:{port}: connection refused)"));
    }

    [Test]
    public async Task ARedisThatComesUpWithinTheTimeoutIsConnected()
    {
        await using var redis = await RedisServer.StartAsync();
        await redis.KillAsync();
        var connecting = RedisConnect.ConnectAsync(Options(redis.Port), TimeSpan.FromSeconds(20), Stopwatch.GetTimestamp(), Setting, CancellationToken.None);
        await redis.RestartAsync();
        await using var connected = await connecting.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.That(connected.IsConnected, Is.True);
        Assert.That((string?)await connected.GetDatabase().ExecuteAsync("PING"), Is.EqualTo("PONG"));
    }

    [Test]
    public async Task WrongCredentialsEndItAtOnceWithRedisOwnWords()
    {
        await using var redis = await RedisServer.StartAsync();
        await redis.Db.ExecuteAsync("CONFIG", "SET", "requirepass", "right");
        var sw = Stopwatch.StartNew();
        var e = Assert.ThrowsAsync<StartupException>(() =>
            RedisConnect.ConnectAsync(Options(redis.Port, "wrong"), TimeSpan.FromSeconds(30), Stopwatch.GetTimestamp(), Setting, CancellationToken.None));
        Assert.That(e!.Message, Does.StartWith($"{Setting}: Redis refused the credentials (").And.Contain("WRONGPASS"));
        Assert.That(sw.Elapsed, Is.LessThan(TimeSpan.FromSeconds(15)), "not the whole allowance");
        Assert.That(e.Message, Does.Not.Contain("right"));
    }

    [Test]
    public void APortThatNeverAnswersIsReportedInTheServicesWords()
    {
        // A port that accepts and says nothing: the library would advise abortConnect=false; the line says what happened.
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start();
        var port = ((System.Net.IPEndPoint)silent.LocalEndpoint).Port;
        var e = Assert.ThrowsAsync<StartupException>(() =>
            RedisConnect.ConnectAsync(Options(port), TimeSpan.FromSeconds(1), Stopwatch.GetTimestamp(), Setting, CancellationToken.None));
        Assert.That(e!.Message, Is.EqualTo($"{Setting}: Redis not reachable within 1 s (the port accepts connections, but Redis did not answer)"));
    }
}
