using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Redswitch.Server.Configuration;
using Redswitch.Server.Esl;
using Redswitch.Server.Metrics;

namespace Redswitch.Tests.Server;

/// <summary>The control link against a scripted peer that authenticates and then goes silent.</summary>
public class InboundLinkTests
{
    [Test]
    public async Task SilentLinkIsDroppedAndReconnectedWithBackoff()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var connections = 0;
        var probes = 0;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var peer = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                TcpClient client;
                try { client = await listener.AcceptTcpClientAsync(stop.Token); }
                catch (OperationCanceledException) { break; }
                Interlocked.Increment(ref connections);
                _ = Task.Run(async () =>
                {
                    using var c = client;
                    var s = c.GetStream();
                    async Task Write(string text) => await s.WriteAsync(Encoding.ASCII.GetBytes(text), stop.Token);
                    await Write("Content-Type: auth/request\n\n");
                    var buf = new byte[4096];
                    var seen = new StringBuilder();
                    var replied = 0;
                    try
                    {
                        while (true)
                        {
                            var n = await s.ReadAsync(buf, stop.Token);
                            if (n == 0) break;
                            seen.Append(Encoding.ASCII.GetString(buf, 0, n));
                            // answer auth, event and the two filters; swallow everything else (an unresponsive FreeSWITCH)
                            var commands = seen.ToString().Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
                            for (; replied < commands.Length && replied < 5; replied++)
                                await Write(replied == 4 ? "Content-Type: api/response\nContent-Length: 36\n\n" + Guid.NewGuid() : "Content-Type: command/reply\nReply-Text: " + (replied switch
                                {
                                    0 => "+OK accepted",
                                    1 => "+OK event listener enabled plain",
                                    _ => "+OK filter added. [Event-Name]=[x]",
                                }) + "\n\n");
                            if (commands.Any(cmd => cmd.StartsWith("api uptime"))) Interlocked.Increment(ref probes);
                        }
                    }
                    catch (Exception) { /* closed */ }
                });
            }
        });

        var restores = new RestoreCounter();
        var (link, group) = NewLink(port, restores);
        link.Start();
        try
        {
            await link.WaitUpAsync(stop.Token);
            var until = DateTime.UtcNow.AddSeconds(10);
            while ((Volatile.Read(ref connections) < 2 || restores.Restores < 1) && DateTime.UtcNow < until) await Task.Delay(50);
            Assert.That(connections, Is.GreaterThanOrEqualTo(2), "reconnected after the silence");
            Assert.That(restores.Restores, Is.GreaterThanOrEqualTo(1), "the loss was seen and the calls told of the link's return");
            Assert.That(probes, Is.GreaterThanOrEqualTo(1), "probed before giving up");
        }
        finally
        {
            await link.DisposeAsync();
            stop.Cancel();
            listener.Stop();
            await group.ShutdownGracefullyAsync(TimeSpan.Zero, TimeSpan.FromSeconds(1));
        }
    }

    [Test]
    public async Task AConnectionThatNeverAuthenticatesIsDroppedAndRetried()
    {
        // A wedged FreeSWITCH (or a proxy) accepts TCP and then says nothing: no auth/request.
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var connections = 0;
        var held = new List<TcpClient>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var peer = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var client = await listener.AcceptTcpClientAsync(stop.Token);
                    lock (held) held.Add(client);
                    Interlocked.Increment(ref connections);
                }
                catch (Exception)
                {
                    break;
                }
            }
        });

        var (link, group) = NewLink(port);
        link.Start();
        try
        {
            var until = DateTime.UtcNow.AddSeconds(10);
            while (Volatile.Read(ref connections) < 2 && DateTime.UtcNow < until) await Task.Delay(50);
            Assert.That(connections, Is.GreaterThanOrEqualTo(2), "gave up on the silent connection and connected again");
            Assert.That(link.IsUp, Is.False);
        }
        finally
        {
            await link.DisposeAsync();
            stop.Cancel();
            listener.Stop();
            lock (held) held.ForEach(c => c.Dispose());
            await group.ShutdownGracefullyAsync(TimeSpan.Zero, TimeSpan.FromSeconds(1));
        }
    }

    [Test]
    public void ReconnectDelaysGrowToTheCapAndVary()
    {
        var baseDelay = TimeSpan.FromMilliseconds(250);
        var cap = TimeSpan.FromSeconds(10);
        var random = new Random(7);
        // 50 draws per attempt: each lies in [half, all] of min(base * 2^attempt, cap)
        for (var attempt = 0; attempt < 12; attempt++)
        {
            var ceiling = Math.Min(baseDelay.TotalMilliseconds * Math.Pow(2, attempt), cap.TotalMilliseconds);
            var draws = Enumerable.Range(0, 50).Select(_ => InboundLink.Backoff(attempt, baseDelay, cap, random).TotalMilliseconds).ToList();
            Assert.That(draws, Has.All.InRange(ceiling / 2, ceiling), $"attempt {attempt}");
            Assert.That(draws.Distinct().Count(), Is.GreaterThan(40), $"attempt {attempt}: jittered");
        }
        // growth: the mean doubles until the cap, then stays
        double Mean(int attempt) => Enumerable.Range(0, 200).Average(_ => InboundLink.Backoff(attempt, baseDelay, cap, random).TotalMilliseconds);
        Assert.That(Mean(1) / Mean(0), Is.InRange(1.7, 2.3));
        Assert.That(Mean(4) / Mean(3), Is.InRange(1.7, 2.3));
        Assert.That(Mean(20), Is.InRange(cap.TotalMilliseconds * 0.7, cap.TotalMilliseconds * 0.8));
        Assert.That(InboundLink.Backoff(int.MaxValue, baseDelay, cap, random), Is.LessThanOrEqualTo(cap), "no overflow on a long outage");
    }

    /// <summary>A control link to 127.0.0.1:port with short silence and backoff times.</summary>
    private sealed class RestoreCounter : IControlLinkListener
    {
        private int _restores;
        public int Restores => Volatile.Read(ref _restores);
        public void OnChannelEvent(InboundLink link, Redswitch.Protocol.Messages.EslEvent evt) { }
        public void OnRestored(InboundLink link, bool freeswitchRestarted, int generation) => Interlocked.Increment(ref _restores);
    }

    private static (InboundLink Link, DotNetty.Transport.Channels.MultithreadEventLoopGroup Group) NewLink(int port, IControlLinkListener? listener = null)
    {
        var options = new RedswitchOptions
        {
            EslNodes = [new EslNode("127.0.0.1", port)],
            LinkSilenceTimeout = TimeSpan.FromSeconds(1.5),
            ReconnectBase = TimeSpan.FromMilliseconds(50),
            ReconnectCap = TimeSpan.FromMilliseconds(200),
        };
        var group = new DotNetty.Transport.Channels.MultithreadEventLoopGroup(1);
        return (new InboundLink(options.EslNodes[0], options, group, new RedswitchMetrics(), NullLogger.Instance, listener ?? new RestoreCounter()), group);
    }
}
