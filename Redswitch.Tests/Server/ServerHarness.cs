using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Redswitch.Server;
using Redswitch.Server.Configuration;
using Redswitch.Simulator;
using Redswitch.Tests.Infrastructure;
using StackExchange.Redis;

namespace Redswitch.Tests.Server;

/// <summary>One Redswitch server, in-process, against the given redis-server and simulator (over real loopback sockets).</summary>
public sealed class ServerHarness : IAsyncDisposable
{
    private static int _counter;

    public WebApplication App { get; }
    public RedswitchService Service { get; }
    public RedswitchOptions Options { get; }
    public TestLog Log { get; }
    public Uri MetricsUri { get; }
    private bool _stopped;

    private ServerHarness(WebApplication app, RedswitchOptions options, TestLog log)
    {
        App = app;
        Options = options;
        Log = log;
        Service = app.Services.GetRequiredService<RedswitchService>();
        MetricsUri = RedswitchApp.MetricsAddress(app)!;
    }

    public static async Task<ServerHarness> StartAsync(RedisServer redis, int eslPort, Dictionary<string, string?>? env = null,
        Func<RedswitchOptions, RedswitchOptions>? tune = null)
    {
        var n = Interlocked.Increment(ref _counter);
        var vars = new Dictionary<string, string?>
        {
            ["ESL_URL"] = $"127.0.0.1:{eslPort}",
            ["PUBSUB_REDIS_URL"] = redis.Url,
            ["OUTBOUND_LISTEN"] = "127.0.0.1:0",
            ["METRICS_LISTEN"] = "127.0.0.1:0",
            ["INSTANCE_ID"] = $"test-{n}",
            ["RING_TIMEOUT"] = "5",
            ["DRAIN_TIMEOUT"] = "5",
        };
        if (env is not null) foreach (var kv in env) vars[kv.Key] = kv.Value;
        var options = RedswitchOptions.Parse(vars, out var errors);
        Assert.That(errors, Is.Empty);
        options = WithTestTimings(options);
        if (tune is not null) options = tune(options);
        var log = new TestLog($"[{n}] ");
        var app = RedswitchApp.Build(options, l => l.AddProvider(log));
        await app.StartAsync();
        return new ServerHarness(app, options, log);
    }

    private static RedswitchOptions WithTestTimings(RedswitchOptions o) => With(o);

    /// <summary>A copy of the options with test timings (and an optional shorter EndedLinger, another link silence limit).</summary>
    public static RedswitchOptions With(RedswitchOptions o, TimeSpan? endedLinger = null, TimeSpan? linkSilence = null) => new()
    {
        EslNodes = o.EslNodes, EslPassword = o.EslPassword, RedisUrl = o.RedisUrl, Redis = o.Redis,
        RedisTimeoutSeconds = o.RedisTimeoutSeconds, RedisOutboxLimit = o.RedisOutboxLimit, OutboundListen = o.OutboundListen, OutboundAdvertise = o.OutboundAdvertise,
        OutboundAllow = o.OutboundAllow, JobList = o.JobList, DialTemplate = o.DialTemplate, SipUriTemplate = o.SipUriTemplate,
        RingTimeoutSeconds = o.RingTimeoutSeconds, JobMaxAgeSeconds = o.JobMaxAgeSeconds, MetricsListen = o.MetricsListen,
        InstanceId = o.InstanceId, DrainTimeoutSeconds = o.DrainTimeoutSeconds, DrainMode = o.DrainMode, InstanceLeaseSeconds = o.InstanceLeaseSeconds, LogJson = o.LogJson, LogPhoneNumbers = o.LogPhoneNumbers,
        ReconnectBase = TimeSpan.FromMilliseconds(50), ReconnectCap = TimeSpan.FromMilliseconds(400),
        BlockSeconds = 1, SocketLinger = TimeSpan.FromSeconds(5), HeartbeatInterval = TimeSpan.FromSeconds(2),
        EndedLinger = endedLinger ?? TimeSpan.FromSeconds(60), SocketConnectTimeout = TimeSpan.FromSeconds(3),
        LinkSilenceTimeout = linkSilence ?? o.LinkSilenceTimeout,
    };

    public async Task StopAsync()
    {
        if (_stopped) return;
        _stopped = true;
        await App.StopAsync();
        await App.DisposeAsync();
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}

/// <summary>Builds asp-call jobs and control messages.</summary>
public static class Jobs
{
    public const string JobList = "talkiq-asp.calls";
    public const string Org = "org1";
    public const string User = "user1";

    public static string NewDialId() => "dial-" + Guid.NewGuid().ToString("N")[..12];

    public static string Call(string dialId, string caller = "15105625882", string callee = "14157697098", string org = Org, string user = User,
        string? extra = null) =>
        $$"""{"type": "asp-call", "call_provider": "talk_call_provider", "callee_number": "{{callee}}", "caller_id_lega": "15105625882", "caller_id_legb": "14157697098", "caller_number": "{{caller}}", "dial_id": "{{dialId}}", "org_id": "{{org}}", "user_id": "{{user}}"{{extra}}}""";

    public static Task PushAsync(RedisServer redis, string job) => redis.Db.ListLeftPushAsync(JobList, job);

    public static Task PublishAsync(RedisServer redis, string dialId, string message) =>
        redis.Db.PublishAsync(RedisChannel.Literal(dialId), message);

    public const string CallStart = "{\"type\": \"call-start\", \"dial_id\": \"%\"}";

    public static string Start(string dialId) => $"{{\"type\": \"call-start\", \"dial_id\": \"{dialId}\"}}";
    public static string Answer(int side) => $"{{\"type\": \"answer-event\", \"side\": \"{side}\"}}";
    public static string Hangup(int side, string cause) => $"{{\"type\": \"hangup-event\", \"side\": \"{side}\", \"cause\": \"{cause}\"}}";
    public static string Failure(string cause) => $"{{\"type\": \"failure\", \"cause\": \"{cause}\"}}";
    public static string Ack(string evt, string? id = null) =>
        id is null ? $"{{\"type\": \"ack\", \"event\": \"{evt}\"}}" : $"{{\"type\": \"ack\", \"event\": \"{evt}\", \"id\": {id}}}";
    public static string ControlFailure(string evt, string cause) => $"{{\"type\": \"failure\", \"event\": \"{evt}\", \"cause\": \"{cause}\"}}";

    public static bool IsHangup(string m) => m.Contains("\"hangup-event\"");
    public static bool IsAck(string m) => m.Contains("\"type\": \"ack\"");
}
