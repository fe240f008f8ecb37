using Redswitch.Server.Configuration;

namespace Redswitch.Tests.Server;

public class OptionsTests
{
    private static RedswitchOptions Parse(out List<string> errors, params (string, string)[] env) =>
        RedswitchOptions.Parse(env.ToDictionary(e => e.Item1, e => (string?)e.Item2), out errors);

    [Test]
    public void DefaultsMatchSpec()
    {
        var o = Parse(out var errors);
        Assert.That(errors, Is.Empty);
        Assert.That(o.EslNodes, Is.EqualTo(new[] { new EslNode("127.0.0.1", 8021) }));
        Assert.That(o.EslPassword, Is.EqualTo("ClueCon"));
        Assert.That(o.JobList, Is.EqualTo("talkiq-asp.calls"));
        Assert.That(o.RingTimeoutSeconds, Is.EqualTo(45));
        Assert.That(o.JobMaxAgeSeconds, Is.EqualTo(120));
        Assert.That(o.DrainTimeoutSeconds, Is.EqualTo(30));
        Assert.That(o.InstanceLeaseSeconds, Is.EqualTo(6));
        Assert.That(o.DrainMode, Is.EqualTo(DrainMode.Handoff));
        Assert.That(o.RedisOutboxLimit, Is.EqualTo(100_000));
        Assert.That(o.OutboundListen.ToString(), Is.EqualTo("0.0.0.0:8084"));
        Assert.That(o.MetricsListen.ToString(), Is.EqualTo("0.0.0.0:9464"));
        Assert.That(o.Redis.EndPoints.Single().ToString(), Does.Contain("6379"));
        Assert.That(o.Redis.ConnectTimeout, Is.EqualTo(10000));
        Assert.That(o.ResolveAdvertise(8084, out var err), Is.EqualTo("127.0.0.1:8084"));
        Assert.That(err, Is.Null);
    }

    [Test]
    public void LeaseAndOutboxLimitAreCheckedIntegers()
    {
        var o = Parse(out var errors, ("INSTANCE_LEASE", "10"), ("REDIS_OUTBOX_LIMIT", "500"));
        Assert.That(errors, Is.Empty);
        Assert.That((o.InstanceLeaseSeconds, o.RedisOutboxLimit), Is.EqualTo((10, 500)));
        Parse(out errors, ("INSTANCE_LEASE", "1"), ("REDIS_OUTBOX_LIMIT", "lots"));
        Assert.That(errors, Has.Count.EqualTo(2));
        Assert.That(errors[0], Does.StartWith("INSTANCE_LEASE") | Does.StartWith("REDIS_OUTBOX_LIMIT"));
        Assert.That(errors.Any(e => e.StartsWith("INSTANCE_LEASE", StringComparison.Ordinal)), Is.True);
        Assert.That(errors.Any(e => e.StartsWith("REDIS_OUTBOX_LIMIT", StringComparison.Ordinal)), Is.True);
    }

    [Test]
    public void DrainModeIsHandoffOrHangup()
    {
        Assert.That(Parse(out var errors, ("DRAIN_MODE", "HangUp")).DrainMode, Is.EqualTo(DrainMode.Hangup));
        Assert.That(errors, Is.Empty);
        Assert.That(Parse(out errors, ("DRAIN_MODE", "handoff")).DrainMode, Is.EqualTo(DrainMode.Handoff));
        Assert.That(errors, Is.Empty);
        Parse(out errors, ("DRAIN_MODE", "wait"));
        Assert.That(errors, Is.EqualTo(new[] { "DRAIN_MODE=\"wait\": must be handoff or hangup" }));
    }

    [Test]
    public void SeveralNodesAndPorts()
    {
        var o = Parse(out var errors, ("ESL_URL", "10.0.0.1, fs2:8022"), ("ESL_PORT", "9000"), ("OUTBOUND_ALLOW", "10.0.0.0/8,127.0.0.1"));
        Assert.That(errors, Is.Empty);
        Assert.That(o.EslNodes, Is.EqualTo(new[] { new EslNode("10.0.0.1", 9000), new EslNode("fs2", 8022) }));
        Assert.That(o.OutboundAllow.Any(c => c.Contains(System.Net.IPAddress.Parse("10.9.8.7"))), Is.True);
        Assert.That(o.OutboundAllow.Any(c => c.Contains(System.Net.IPAddress.Parse("11.0.0.1"))), Is.False);
    }

    [Test]
    public void RedisUrlForms()
    {
        var o = Parse(out var errors, ("PUBSUB_REDIS_URL", "rediss://bob:s3cret@cache.example:6380/2"), ("PUBSUB_REDIS_TIMEOUT", "3"));
        Assert.That(errors, Is.Empty);
        Assert.That(o.Redis.Ssl, Is.True);
        Assert.That(o.Redis.User, Is.EqualTo("bob"));
        Assert.That(o.Redis.Password, Is.EqualTo("s3cret"));
        Assert.That(o.Redis.DefaultDatabase, Is.EqualTo(2));
        Assert.That(o.Redis.ConnectTimeout, Is.EqualTo(3000));
    }

    [Test]
    public void EveryBadValueGetsOneLineNamingTheVariableAndSecretsStayHidden()
    {
        Parse(out var errors,
            ("ESL_PORT", "70000"),
            ("PUBSUB_REDIS_URL", "http://u:hunter2@x"),
            ("OUTBOUND_LISTEN", "0.0.0.0:99999"),
            ("OUTBOUND_ALLOW", "10.0.0.0/33"),
            ("RING_TIMEOUT", "abc"),
            ("METRICS_LISTEN", "nohost"),
            ("LOG_FORMAT", "xml"),
            ("PUBSUB_REDIS_TIMEOUT", "-1"));
        Assert.That(errors, Has.Count.EqualTo(8));
        foreach (var name in new[] { "ESL_PORT", "PUBSUB_REDIS_URL", "OUTBOUND_LISTEN", "OUTBOUND_ALLOW", "RING_TIMEOUT", "METRICS_LISTEN", "LOG_FORMAT", "PUBSUB_REDIS_TIMEOUT" })
            Assert.That(errors.Count(e => e.StartsWith(name + "=", StringComparison.Ordinal)), Is.EqualTo(1), name);
        Assert.That(string.Join("\n", errors), Does.Not.Contain("hunter2"));
        Assert.That(errors.All(e => !e.Contains('\n')), Is.True);
    }

    [Test]
    public void PasswordIsNeverEchoed()
    {
        Parse(out var errors, ("ESL_PASSWORD", "top\nsecret"));
        Assert.That(errors, Has.Count.EqualTo(1));
        Assert.That(errors[0], Does.StartWith("ESL_PASSWORD"));
        Assert.That(errors[0], Does.Not.Contain("secret"));
    }
}
