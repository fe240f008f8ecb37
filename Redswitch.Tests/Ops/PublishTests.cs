using System.Diagnostics;
using System.Net;
using Redswitch.Simulator;
using Redswitch.Tests.Infrastructure;

namespace Redswitch.Tests.Ops;

/// <summary>
/// What the container image runs, without a Docker engine (none is reachable here): the <c>dotnet publish</c> output
/// of the server starts, serves <c>/healthz</c>, passes the image's HEALTHCHECK command (<c>check --local</c>), and
/// stops with exit 0 on SIGTERM (the image's STOPSIGNAL).
/// </summary>
[Category("e2e")]
[NonParallelizable]
public class PublishTests
{
    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Redswitch.sln"))) return dir.FullName;
        Assert.Fail("no Redswitch.sln above " + TestContext.CurrentContext.TestDirectory);
        return "";
    }

    [Test]
    public async Task ThePublishedServerStartsServesHealthzPassesItsHealthCheckAndStopsOnSigterm()
    {
        var output = Directory.CreateTempSubdirectory("redswitch-publish-").FullName;
        try
        {
            // --no-build: the Release build the tests run from, published as the Dockerfile publishes it.
            var publish = new ProcessStartInfo("dotnet")
            {
                ArgumentList = { "publish", Path.Combine(RepoRoot(), "Redswitch.Server", "Redswitch.Server.csproj"), "-c", "Release", "--no-build", "-o", output, "-nologo", "-v", "q" },
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            using (var p = Process.Start(publish)!)
            {
                var log = p.StandardOutput.ReadToEndAsync();
                var err = p.StandardError.ReadToEndAsync();
                await p.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
                Assert.That(p.ExitCode, Is.Zero, await log + await err);
            }
            var dll = Path.Combine(output, "Redswitch.Server.dll");
            Assert.That(File.Exists(dll), Is.True);

            await using var redis = await RedisServer.StartAsync();
            await using var sim = await SimulatorHost.StartAsync(new SimulatorOptions { Port = 0, HeartbeatInterval = null });
            var env = ServerProcess.InstanceEnvironment(sim.Port, redis.Port, "published-1", extra: new Dictionary<string, string> { ["LOG_FORMAT"] = "json" });
            await using var server = ServerProcess.FromDll(dll, env);
            await server.WaitReadyAsync(30);
            using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) })
            {
                using var healthz = await http.GetAsync(new Uri(server.MetricsUri, "/healthz"));
                Assert.That(healthz.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            }

            await using (var health = ServerProcess.FromDll(dll, env, "check", "--local"))
            {
                Assert.That(await health.ExitAsync(30), Is.Zero, health.Dump());
                Assert.That(health.Out, Has.One.EndsWith("/healthz: alive"));
            }

            server.Terminate();
            Assert.That(await server.ExitAsync(30), Is.Zero, server.Dump());
            await using (var health = ServerProcess.FromDll(dll, env, "check", "--local", "--seconds", "2"))
                Assert.That(await health.ExitAsync(30), Is.EqualTo(1), "unhealthy once stopped\n" + health.Dump());
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }
}

/// <summary>The container files agree with the service: the health check is the verb, the stop waits out the drain.</summary>
public class ContainerFileTests
{
    private static string Read(string name)
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Redswitch.sln"))) return File.ReadAllText(Path.Combine(dir.FullName, name));
        Assert.Fail("no Redswitch.sln above " + TestContext.CurrentContext.TestDirectory);
        return "";
    }

    [Test]
    public void TheImagesHealthCheckIsCheckLocalAndItsUserIsNumeric()
    {
        var lines = Read("Dockerfile").Split('\n').Select(l => l.Trim()).ToList();
        Assert.That(lines, Has.One.Match("""^HEALTHCHECK .*CMD \["dotnet", "Redswitch.Server.dll", "check", "--local"\]$"""));
        Assert.That(lines, Has.One.EqualTo("""ENTRYPOINT ["dotnet", "Redswitch.Server.dll"]"""));
        Assert.That(lines, Has.One.EqualTo("USER $APP_UID"), "numeric, for runAsNonRoot");
    }

    [Test]
    public void ComposeGivesTheDrainTimeToFinish()
    {
        var compose = Read("docker-compose.yml");
        var grace = System.Text.RegularExpressions.Regex.Match(compose, @"^\s+stop_grace_period: (\d+)s\s*$", System.Text.RegularExpressions.RegexOptions.Multiline);
        var drain = System.Text.RegularExpressions.Regex.Match(compose, @"^\s+DRAIN_TIMEOUT: ""(\d+)""\s*$", System.Text.RegularExpressions.RegexOptions.Multiline);
        Assert.That(grace.Success && drain.Success, Is.True, "stop_grace_period and DRAIN_TIMEOUT both set");
        // the hang-up at the timeout waits up to 5 s for FreeSWITCH, then Redis gets 3 s for the last writes
        Assert.That(int.Parse(grace.Groups[1].Value), Is.GreaterThanOrEqualTo(int.Parse(drain.Groups[1].Value) + 10));
        Assert.That(compose, Does.Contain("OUTBOUND_ADVERTISE:"));
    }
}
