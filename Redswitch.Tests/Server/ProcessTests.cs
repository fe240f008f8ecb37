using System.Text.Json;
using Redswitch.Simulator;
using Redswitch.Tests.Infrastructure;
using static Redswitch.Tests.Server.Jobs;

namespace Redswitch.Tests.Server;

/// <summary>The server as operators start it: a real process, configured from the environment (SPEC §2, §8, §11).</summary>
[Category("e2e")]
[NonParallelizable]
public class ProcessTests
{
    [Test]
    public async Task BadConfigurationExitsNonZeroWithOneLinePerValue()
    {
        await using var p = new ServerProcess(new()
        {
            ["RING_TIMEOUT"] = "soon",
            ["OUTBOUND_ALLOW"] = "10.0.0.0/40",
            ["PUBSUB_REDIS_URL"] = "redis://admin:hunter2@127.0.0.1:notaport",
        });
        Assert.That(await p.ExitAsync(30), Is.Not.Zero);
        var err = p.Err.ToList();
        Assert.That(err, Has.Count.EqualTo(3), string.Join("\n", err));
        Assert.That(err.Count(l => l.Contains("RING_TIMEOUT=")), Is.EqualTo(1));
        Assert.That(err.Count(l => l.Contains("OUTBOUND_ALLOW=")), Is.EqualTo(1));
        Assert.That(err.Count(l => l.Contains("PUBSUB_REDIS_URL=")), Is.EqualTo(1));
        Assert.That(string.Join("\n", err), Does.Not.Contain("hunter2"));
    }

    [Test]
    public async Task BadConfigurationInJsonModeIsOneJsonLineOnStdout()
    {
        await using var p = new ServerProcess(new() { ["LOG_FORMAT"] = "json", ["RING_TIMEOUT"] = "soon" });
        Assert.That(await p.ExitAsync(30), Is.Not.Zero);
        var message = OneClearLine(p, json: true);
        Assert.That(message, Is.EqualTo("bad configuration: RING_TIMEOUT=\"soon\": must be an integer from 1 to 3600"));
    }

    [Test]
    public async Task ABadLogFormatIsReportedInText()
    {
        await using var p = new ServerProcess(new() { ["LOG_FORMAT"] = "xml" });
        Assert.That(await p.ExitAsync(30), Is.Not.Zero);
        Assert.That(OneClearLine(p, json: false), Is.EqualTo("redswitch: bad configuration: LOG_FORMAT=\"xml\": must be text or json"));
    }

    /// <summary>
    /// Refused: tried again until PUBSUB_REDIS_TIMEOUT is spent (Redis may be starting beside it), then one line
    /// that says so, in the service's words (not the client library's advice about its own settings).
    /// </summary>
    [Test]
    public async Task SigtermWhileWaitingForRedisIsACleanStop()
    {
        var metrics = FreePort.Get();
        await using var p = new ServerProcess(new()
        {
            ["PUBSUB_REDIS_URL"] = $"redis://127.0.0.1:{FreePort.Get()}",
            ["PUBSUB_REDIS_TIMEOUT"] = "60",
            ["OUTBOUND_LISTEN"] = "127.0.0.1:0",
            ["METRICS_LISTEN"] = $"127.0.0.1:{metrics}",
        });
        // alive (its port bound) while it waits for Redis
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        await Waits.UntilAsync(async () =>
        {
            try { return (await http.GetAsync($"http://127.0.0.1:{metrics}/healthz")).IsSuccessStatusCode; }
            catch (HttpRequestException) { return p.HasExited; }
        }, 30, "/healthz while starting");
        p.Terminate();
        Assert.That(await p.ExitAsync(20), Is.Zero, p.Dump());
        Assert.That(p.Out, Has.One.EqualTo("redswitch: stopped before start-up finished"), p.Dump());
        Assert.That(p.Out.Concat(p.Err), Has.None.Contains("ready").And.None.Contains("cannot start"), p.Dump());
    }

    [TestCase("text")]
    [TestCase("json")]
    public async Task UnreachableRedisExitsNonZeroWithOneClearLine(string format)
    {
        var port = FreePort.Get();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        await using var p = new ServerProcess(new()
        {
            ["PUBSUB_REDIS_URL"] = $"redis://127.0.0.1:{port}",
            ["PUBSUB_REDIS_TIMEOUT"] = "2",
            ["OUTBOUND_LISTEN"] = "127.0.0.1:0",
            ["METRICS_LISTEN"] = "127.0.0.1:0",
            ["LOG_FORMAT"] = format,
        });
        Assert.That(await p.ExitAsync(30), Is.Not.Zero);
        Assert.That(sw.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(2)), "the whole PUBSUB_REDIS_TIMEOUT is used");
        Assert.That(OneClearLine(p, format == "json"), Does.EndWith(
            $"cannot start: PUBSUB_REDIS_URL=\"redis://127.0.0.1:{port}\": Redis not reachable within 2 s (127.0.0.1:{port}: connection refused)"));
    }

    [TestCase("text")]
    [TestCase("json")]
    public async Task AnOutboundListenAddressOfAnotherHostExitsNonZeroWithOneClearLine(string format)
    {
        await using var redis = await RedisServer.StartAsync();
        // 203.0.113.9 (TEST-NET-3) is no address of this host: the bind fails locally, nothing is sent to it.
        await using var p = new ServerProcess(new()
        {
            ["PUBSUB_REDIS_URL"] = redis.Url,
            ["OUTBOUND_LISTEN"] = "203.0.113.9:8084",
            ["METRICS_LISTEN"] = "127.0.0.1:0",
            ["LOG_FORMAT"] = format,
        });
        Assert.That(await p.ExitAsync(30), Is.Not.Zero);
        Assert.That(OneClearLine(p, format == "json"), Does.EndWith(
            "cannot start: OUTBOUND_LISTEN=203.0.113.9:8084: cannot listen: 203.0.113.9 is not an address of this host"));
    }

    /// <summary>
    /// METRICS_LISTEN is bound before the service starts: a taken port stops the process before it takes a job, with
    /// one line and no "ready".
    /// </summary>
    [TestCase("text")]
    [TestCase("json")]
    public async Task ATakenMetricsPortExitsNonZeroWithOneClearLineAndTakesNoJob(string format)
    {
        await using var redis = await RedisServer.StartAsync();
        await using var sim = await SimulatorHost.StartAsync(new SimulatorOptions { Port = 0, HeartbeatInterval = null });
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        var dialId = NewDialId();
        await PushAsync(redis, Call(dialId));
        await using var p = new ServerProcess(ServerProcess.InstanceEnvironment(sim.Port, redis.Port, "metrics-taken", extra: new Dictionary<string, string>
        {
            ["METRICS_LISTEN"] = $"127.0.0.1:{port}",
            ["LOG_FORMAT"] = format,
        }));
        Assert.That(await p.ExitAsync(30), Is.Not.Zero);
        Assert.That(OneClearLine(p, format == "json"), Does.EndWith($"cannot start: METRICS_LISTEN=127.0.0.1:{port}: cannot listen: port {port} is already in use"));
        Assert.That(await redis.Db.ListLengthAsync(JobList), Is.EqualTo(1), "the job is still waiting");
        Assert.That(await redis.Db.KeyExistsAsync($"redswitch.dialled.{dialId}"), Is.False, "nothing was dialled");
    }

    /// <summary>
    /// The one line of a failed start, and nothing else: JSON on stdout with LOG_FORMAT=json, text on stderr otherwise;
    /// no stack trace, no "ready". Returns the JSON line's message, or the text line.
    /// </summary>
    private static string OneClearLine(ServerProcess p, bool json)
    {
        var all = p.Out.Concat(p.Err).ToList();
        Assert.That(all, Has.Count.EqualTo(1), p.Dump());
        Assert.That(json ? p.Out : p.Err, Has.Count.EqualTo(1), p.Dump());
        var line = all[0];
        Assert.That(line, Does.Not.Contain("Redswitch ready").And.Not.Contain("Exception").And.Not.Match(@"\bat \S+\("), "no stack trace, no ready");
        if (!json)
        {
            Assert.That(line, Does.StartWith("redswitch: "));
            return line;
        }
        using var doc = JsonDocument.Parse(line);
        var root = doc.RootElement;
        Assert.That(root.GetProperty("level").GetString(), Is.EqualTo("critical"));
        Assert.That(root.GetProperty("category").GetString(), Is.EqualTo("Redswitch.Startup"));
        Assert.That(root.GetProperty("timestamp").GetString(), Does.Match(Timestamp));
        return root.GetProperty("message").GetString()!;
    }

    private const string Timestamp = @"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$";

    /// <summary>
    /// LOG_FORMAT=json through one call (job, answer, hangup by a control message, SIGTERM): every line is a JSON
    /// object with timestamp, level, category and message; the call's lines, its start and its end among them,
    /// carry its dial_id at the top; "ready" comes once the metrics port answers.
    /// </summary>
    [Test]
    public async Task JsonLogsOfOneCall()
    {
        var started = DateTimeOffset.UtcNow;
        var (p, dialId) = await RunOneCallAsync("json");
        await using var _ = p;
        Assert.That(p.Err, Is.Empty, p.Dump());
        var lines = new List<JsonElement>();
        foreach (var line in p.Out)
        {
            JsonElement root;
            try { root = JsonDocument.Parse(line).RootElement; }
            catch (JsonException) { Assert.Fail($"not a JSON line: {line}"); throw; }
            Assert.That(root.ValueKind, Is.EqualTo(JsonValueKind.Object), line);
            var timestamp = root.GetProperty("timestamp").GetString()!;
            Assert.That(timestamp, Does.Match(Timestamp), line);
            Assert.That(DateTimeOffset.Parse(timestamp, System.Globalization.CultureInfo.InvariantCulture), Is.InRange(started.AddSeconds(-1), DateTimeOffset.UtcNow.AddSeconds(1)), line);
            Assert.That(root.GetProperty("level").GetString(), Is.AnyOf("trace", "debug", "info", "warn", "error", "critical"), line);
            Assert.That(root.GetProperty("category").GetString(), Is.Not.Empty, line);
            Assert.That(root.GetProperty("message").ValueKind, Is.EqualTo(JsonValueKind.String), line);
            lines.Add(root);
        }
        string? DialId(JsonElement l) => l.TryGetProperty("dial_id", out var d) ? d.GetString() : null;
        var call = lines.Where(l => DialId(l) == dialId).Select(l => l.GetProperty("message").GetString()!).ToList();
        Assert.That(call, Has.Some.StartsWith("originating caller"), "the call's start");
        Assert.That(call, Has.Some.StartsWith("call ended (connected)"), "the call's end");
        Assert.That(lines.Where(l => l.GetProperty("message").GetString()!.Contains(dialId) && DialId(l) != dialId), Is.Empty,
            "a line that names the call carries its dial_id");
        Assert.That(string.Join("\n", p.Out), Does.Not.Contain("15105625882"), "phone numbers are masked");
        TestContext.Out.WriteLine("the JSON log of one call:\n" + string.Join("\n", p.Out));
    }

    [Test]
    public async Task TextLogsOfOneCallShowItsDialId()
    {
        var (p, dialId) = await RunOneCallAsync("text");
        await using var _ = p;
        var lines = p.Out.ToList();
        Assert.That(lines.Where(l => l.Contains("originating caller")).ToList(), Has.Count.EqualTo(1).And.All.Contain($"dial_id={dialId}"), p.Dump());
        Assert.That(lines.Where(l => l.Contains("call ended (connected)")).ToList(), Has.Count.EqualTo(1).And.All.Contain($"dial_id={dialId}"), p.Dump());
        Assert.That(lines, Has.All.Match(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (info|warn|fail|crit|dbug|trce): "), "the text format as before");
    }

    /// <summary>A server process with the given LOG_FORMAT runs one call and stops on SIGTERM (exit 0); returns it, exited, and the call's dial_id.</summary>
    private static async Task<(ServerProcess, string)> RunOneCallAsync(string format)
    {
        await using var redis = await RedisServer.StartAsync();
        await using var sim = await SimulatorHost.StartAsync(new SimulatorOptions { Port = 0, HeartbeatInterval = null });
        var p = new ServerProcess(ServerProcess.InstanceEnvironment(sim.Port, redis.Port, "logs-" + format,
            extra: new Dictionary<string, string> { ["LOG_FORMAT"] = format }));
        try
        {
            await p.WaitForOutputAsync("Redswitch ready", 30);
            // "ready" is logged once everything is bound: the metrics port answers at once.
            Assert.That((await p.GetAsync("/healthz")).Status, Is.EqualTo(200), p.Dump());

            var dialId = NewDialId();
            await using var watch = await ChannelWatcher.StartAsync(redis.Client, dialId);
            await PushAsync(redis, Call(dialId));
            await watch.CollectAsync(m => m == Answer(1), 1, 10);
            await watch.SendAsync("""{"type": "hangup"}""");
            Assert.That(await watch.NextAsync(), Is.EqualTo(Ack("hangup")));
            await watch.CollectAsync(IsHangup, 2);
            await p.WaitForOutputAsync("call ended", 10);
            p.Terminate();
            Assert.That(await p.ExitAsync(30), Is.Zero, p.Dump());
            return (p, dialId);
        }
        catch
        {
            await p.DisposeAsync();
            throw;
        }
    }

    [Test]
    public async Task SigtermKeepsServingTheLiveCallTakesNoNewJobAndExitsZero()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var sim = await SimulatorHost.StartAsync(new SimulatorOptions { Port = 0, HeartbeatInterval = null });
        await using var p = new ServerProcess(new()
        {
            ["ESL_URL"] = $"127.0.0.1:{sim.Port}",
            ["PUBSUB_REDIS_URL"] = redis.Url,
            ["OUTBOUND_LISTEN"] = "127.0.0.1:0",
            ["METRICS_LISTEN"] = "127.0.0.1:0",
            ["DRAIN_TIMEOUT"] = "20",
            ["INSTANCE_ID"] = "proc-1",
            ["LOG_FORMAT"] = "json",
        });
        await p.WaitForOutputAsync("Redswitch ready", 30);
        Assert.That(p.Out.First(l => l.Contains("Redswitch ready")), Does.Contain("connected"));
        foreach (var line in p.Out) Assert.DoesNotThrow(() => JsonDocument.Parse(line), line);

        var dialId = NewDialId();
        await using var watch = await ChannelWatcher.StartAsync(redis.Client, dialId);
        await PushAsync(redis, Call(dialId));
        await watch.CollectAsync(m => m == Answer(1), 1, 10);

        p.Terminate();
        await Task.Delay(2500); // a BLMOVE in flight returns within its block time
        await PushAsync(redis, Call(NewDialId()));
        await Task.Delay(1000);
        Assert.That(await redis.Db.ListLengthAsync(JobList), Is.EqualTo(1), "no job taken while stopping");

        await watch.SendAsync("""{"type": "hangup"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(Ack("hangup")));
        var tail = await watch.CollectAsync(IsHangup, 2);
        Assert.That(tail, Is.EquivalentTo(new[] { Hangup(0, "NORMAL_CLEARING"), Hangup(1, "NORMAL_CLEARING") }));
        Assert.That(await p.ExitAsync(15), Is.Zero, string.Join("\n", p.Err));
        var ended = p.Out.Single(l => l.Contains("call ended"));
        using var doc = JsonDocument.Parse(ended);
        Assert.That(doc.RootElement.GetProperty("dial_id").GetString(), Is.EqualTo(dialId));
        Assert.That(string.Join("\n", p.Out), Does.Not.Contain("15105625882"), "phone numbers are masked");
        Assert.That(await redis.Db.ListLengthAsync(JobList), Is.EqualTo(1));
        Assert.That(await redis.Db.ListLengthAsync($"{{{JobList}}}.processing.proc-1"), Is.Zero);
    }
}
