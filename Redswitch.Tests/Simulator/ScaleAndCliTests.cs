using System.Diagnostics;
using System.Text.RegularExpressions;
using Redswitch.Protocol.Messages;
using Redswitch.Simulator;

namespace Redswitch.Tests.Simulator;

[TestFixture, CancelAfter(120000)]
public class ScaleTests : SimTestBase
{
    protected override void Configure(SimulatorOptions o) => o.AnswerDelay = TimeSpan.FromMilliseconds(50);

    [Test]
    public async Task TenThousandConcurrentChannels()
    {
        const int n = 10_000;
        await using var c = await ConnectAsync();
        await c.CommandAsync("event plain BACKGROUND_JOB");
        var threadsBefore = Process.GetCurrentProcess().Threads.Count;
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < n; i++) sb.Append($"bgapi originate sofia/gateway/gw/1555{i:D7}1 &park()\n\n");
        await c.SendRawAsync(sb.ToString());
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (c.Events.Count(e => e.EventName == "BACKGROUND_JOB") < n)
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "originates did not finish");
            await Task.Delay(100);
        }
        for (int i = 0; i < n; i++) await c.NextReplyAsync(); // the bgapi replies
        Assert.That(c.Events.Where(e => e.EventName == "BACKGROUND_JOB").All(e => e.EventBodyText!.StartsWith("+OK ")), Is.True);
        Assert.That(Sim.LiveChannels, Is.EqualTo(n));
        Assert.That(await c.ApiAsync("show channels count"), Is.EqualTo($"\n{n} total.\n"));
        Assert.That(Process.GetCurrentProcess().Threads.Count - threadsBefore, Is.LessThan(50), "no thread per channel");
        await c.ApiAsync("hupall MANAGER_REQUEST");
        deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (Sim.LiveChannels > 0)
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "channels did not go away");
            await Task.Delay(50);
        }
        Assert.That(Sim.SessionsSinceStartup, Is.EqualTo(n));
    }
}

[TestFixture, CancelAfter(120000)]
public class SocketScaleTests : SimTestBase
{
    protected override void Configure(SimulatorOptions o) => o.AnswerDelay = TimeSpan.FromMilliseconds(50);

    [Test]
    public async Task TwoThousandOutboundSocketsEachSeeOnlyTheirChannel()
    {
        const int n = 2000; // both ends live in this process: 2 descriptors per call
        await using var server = new OutboundTestServer();
        await using var c = await ConnectAsync();
        await c.CommandAsync("event plain BACKGROUND_JOB");
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < n; i++) sb.Append($"bgapi originate sofia/gateway/gw/1555{i:D7}1 '&socket(127.0.0.1:{server.Port} async full)'\n\n");
        await c.SendRawAsync(sb.ToString());
        var sockets = new List<EslTestClient>();
        try
        {
            for (int i = 0; i < n; i++)
            {
                var s = await server.AcceptAsync(TimeSpan.FromSeconds(30));
                sockets.Add(s);
                await s.SendRawAsync("connect\n\nmyevents\n\nlinger\n\n");
            }
            var parkDeadline = DateTime.UtcNow + TimeSpan.FromSeconds(40);
            while (true)
            {
                var missing = sockets.Count(s => s.All.OfType<CommandReply>().Count() < 3); // connect, myevents, linger
                if (missing == 0) break;
                Assert.That(DateTime.UtcNow, Is.LessThan(parkDeadline), $"{missing} sockets did not get their three replies");
                await Task.Delay(100);
            }
            Assert.That(Sim.LiveChannels, Is.EqualTo(n));
            for (int i = 0; i < n; i++) await c.NextReplyAsync(); // the bgapi replies
            Assert.That(await c.ApiAsync("hupall"), Does.StartWith("+OK"));
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(40);
            while (true)
            {
                var missing = sockets.Count(s => !s.All.Any(m => m is DisconnectNotice));
                if (missing == 0) break;
                Assert.That(DateTime.UtcNow, Is.LessThan(deadline), $"{missing} sockets got no linger notice; live channels {Sim.LiveChannels}");
                await Task.Delay(100);
            }
            foreach (var s in sockets)
            {
                var connect = s.All.OfType<CommandReply>().First(r => r.IsConnectReply);
                Assert.That(s.Events.All(e => e.UniqueId == connect.UniqueId), Is.True);
            }
        }
        finally
        {
            foreach (var s in sockets) await s.DisposeAsync();
        }
    }
}

[TestFixture, CancelAfter(60000)]
public class CliTests
{
    /// <summary>The simulator as built in its own output folder (same configuration as the tests).</summary>
    private static string SimulatorDll
    {
        get
        {
            var testDir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); // Redswitch.Tests/bin/<cfg>/<tfm>
            var tfm = testDir.Name;
            var cfg = testDir.Parent!.Name;
            var root = testDir.Parent!.Parent!.Parent!.Parent!.FullName;
            return Path.Combine(root, "Redswitch.Simulator", "bin", cfg, tfm, "Redswitch.Simulator.dll");
        }
    }

    private static Process Start(string args)
    {
        var psi = new ProcessStartInfo("dotnet", $"\"{SimulatorDll}\" {args}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        return Process.Start(psi)!;
    }

    [Test]
    public async Task HelpDocumentsEveryOption()
    {
        using var p = Start("--help");
        var output = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(p.ExitCode, Is.Zero);
        foreach (var opt in new[] { "--listen", "--password", "--answer-delay", "--ring-timeout", "--hangup-delay", "--gateways", "--hostname", "--heartbeat", "--quiet", "--help" })
            Assert.That(output, Does.Contain(opt));
    }

    [Test]
    public async Task BadOptionExitsNonZeroWithOneLine()
    {
        using var p = Start("--listen nonsense");
        var err = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(p.ExitCode, Is.Not.Zero);
        Assert.That(err.Trim().Split('\n'), Has.Length.EqualTo(1));
    }

    [Test]
    public async Task ServesLogsOneLinePerCallAndStopsCleanlyOnSigterm()
    {
        using var p = Start("--listen 127.0.0.1:0 --password secret --heartbeat 0");
        var ready = await p.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(ready, Does.Contain("listening on 127.0.0.1:").And.Contain("ready"));
        var port = int.Parse(Regex.Match(ready!, @"127\.0\.0\.1:(\d+)").Groups[1].Value);
        await using (var c = await EslTestClient.ConnectAuthedAsync(port, "secret"))
        {
            var r = await c.ApiAsync("originate user/15550000486 &park()");
            Assert.That(r, Is.EqualTo("-ERR USER_BUSY\n"));
        }
        var line = await p.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(line, Does.StartWith("call ").And.Contain("cause=USER_BUSY"));
        using (var kill = Process.Start("kill", $"-TERM {p.Id}")) await kill!.WaitForExitAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.That(p.ExitCode, Is.Zero);
    }
}
