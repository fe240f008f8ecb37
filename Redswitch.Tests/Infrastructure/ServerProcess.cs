using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace Redswitch.Tests.Infrastructure;

/// <summary>
/// The server as operators start it: <c>dotnet Redswitch.Server.dll</c> from the test directory, a real process with a
/// clean environment (every setting of <see cref="Redswitch.Server.Configuration.RedswitchOptions.Names"/> removed, then
/// the given variables), its stdout and stderr collected. It can be stopped with SIGTERM, killed with SIGKILL, paused
/// (SIGSTOP) and resumed (SIGCONT). Disposing kills a process that still runs; so does the test host's exit, so no
/// server process outlives the tests.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private static readonly ConcurrentDictionary<ServerProcess, byte> Running = new();
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(2) };
    private static readonly HashSet<int> PortsHandedOut = [];

    static ServerProcess()
    {
        // last line of defence: a test host that exits (even after a failure) takes its server processes with it
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var p in Running.Keys) p.KillNow();
        };
    }

    private readonly Process _p;
    private readonly int _pid;
    private int _disposed;
    public readonly ConcurrentQueue<string> Out = new();
    public readonly ConcurrentQueue<string> Err = new();

    /// <summary>The variables the process was started with (beyond the cleaned host environment).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; }

    /// <summary>A name for messages: the INSTANCE_ID when there is one.</summary>
    public string Name { get; }

    public ServerProcess(Dictionary<string, string> env, params string[] args)
        : this(Path.Combine(TestContext.CurrentContext.TestDirectory, "Redswitch.Server.dll"), env, args)
    {
    }

    /// <summary>Another build of the server (e.g. the <c>dotnet publish</c> output the container image holds).</summary>
    public static ServerProcess FromDll(string dll, Dictionary<string, string> env, params string[] args) => new(dll, env, args);

    private ServerProcess(string dll, Dictionary<string, string> env, string[] args)
    {
        Environment = new Dictionary<string, string>(env);
        Name = env.TryGetValue("INSTANCE_ID", out var id) ? id : "redswitch";
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var name in Redswitch.Server.Configuration.RedswitchOptions.Names) psi.Environment.Remove(name);
        foreach (var kv in env) psi.Environment[kv.Key] = kv.Value;
        _p = Process.Start(psi)!;
        Running.TryAdd(this, 0);
        _pid = _p.Id;
        _p.OutputDataReceived += (_, e) => { if (e.Data is not null) Out.Enqueue(e.Data); };
        _p.ErrorDataReceived += (_, e) => { if (e.Data is not null) Err.Enqueue(e.Data); };
        _p.BeginOutputReadLine();
        _p.BeginErrorReadLine();
    }

    /// <summary>
    /// The environment of one instance against the simulator on <paramref name="eslPort"/> and the redis-server on
    /// <paramref name="redisPort"/>: fresh loopback ports for the outbound server and the metrics, the lease, hang-up
    /// drain, text logs. <paramref name="extra"/> adds or overrides variables.
    /// </summary>
    public static Dictionary<string, string> InstanceEnvironment(int eslPort, int redisPort, string instanceId, int leaseSeconds = 3,
        string eslPassword = "ClueCon", IReadOnlyDictionary<string, string>? extra = null)
    {
        var env = new Dictionary<string, string>
        {
            ["ESL_URL"] = $"127.0.0.1:{eslPort}",
            ["ESL_PASSWORD"] = eslPassword,
            ["PUBSUB_REDIS_URL"] = $"redis://127.0.0.1:{redisPort}",
            ["INSTANCE_ID"] = instanceId,
            ["INSTANCE_LEASE"] = leaseSeconds.ToString(CultureInfo.InvariantCulture),
            ["OUTBOUND_LISTEN"] = $"127.0.0.1:{NewPort()}",
            ["METRICS_LISTEN"] = $"127.0.0.1:{NewPort()}",
            ["DRAIN_MODE"] = "hangup",
            ["LOG_FORMAT"] = "text",
        };
        if (extra is not null) foreach (var kv in extra) env[kv.Key] = kv.Value;
        return env;
    }

    /// <summary>A free loopback port not handed out before in this test run (two instances never get the same one).</summary>
    private static int NewPort()
    {
        for (var i = 0; i < 100; i++)
        {
            var p = FreePort.Get();
            lock (PortsHandedOut) if (PortsHandedOut.Add(p)) return p;
        }
        throw new InvalidOperationException("no fresh free port in 100 tries");
    }

    public int Pid => _pid;
    public bool HasExited => Volatile.Read(ref _disposed) == 1 || _p.HasExited;

    /// <summary>The metrics endpoint, from METRICS_LISTEN (which must name a port).</summary>
    public Uri MetricsUri
    {
        get
        {
            if (!Environment.TryGetValue("METRICS_LISTEN", out var listen) || !IPEndPoint.TryParse(listen, out var ep) || ep.Port == 0)
                throw new InvalidOperationException("METRICS_LISTEN must name ip:port (not port 0) to reach /metrics and /readyz");
            var host = ep.Address.Equals(IPAddress.Any) ? "127.0.0.1" : ep.Address.ToString();
            return new Uri($"http://{host}:{ep.Port}/");
        }
    }

    public async Task<int> ExitAsync(double seconds)
    {
        await _p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(seconds));
        _p.WaitForExit(); // flush the output readers
        return _p.ExitCode;
    }

    public async Task WaitForOutputAsync(string text, double seconds)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (!Out.Any(l => l.Contains(text)))
        {
            if (_p.HasExited || DateTime.UtcNow > until)
                Assert.Fail($"{Name}: no '{text}' in the output\n{Dump()}");
            await Task.Delay(50);
        }
    }

    /// <summary>Polls <c>/readyz</c> until it answers 200; fails (with the process's output) when the process exits or time runs out.</summary>
    public async Task WaitReadyAsync(double seconds)
    {
        var sw = Stopwatch.StartNew();
        var last = "no answer yet";
        while (true)
        {
            if (_p.HasExited) Assert.Fail($"{Name} exited with {_p.ExitCode} before it was ready\n{Dump()}");
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                using var r = await Http.GetAsync(new Uri(MetricsUri, "/readyz"), cts.Token);
                if (r.StatusCode == HttpStatusCode.OK) return;
                last = $"{(int)r.StatusCode} {(await r.Content.ReadAsStringAsync(cts.Token)).Trim()}";
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
            {
                last = e.Message;
            }
            if (sw.Elapsed.TotalSeconds > seconds) Assert.Fail($"{Name} not ready within {seconds} s (last /readyz: {last})\n{Dump()}");
            await Task.Delay(50);
        }
    }

    /// <summary>Whether <c>/readyz</c> answers 200 now (within <paramref name="seconds"/>).</summary>
    public async Task<bool> IsReadyAsync(double seconds = 1)
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
            using var r = await Http.GetAsync(new Uri(MetricsUri, "/readyz"), cts.Token);
            return r.StatusCode == HttpStatusCode.OK;
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>GET of a path of the metrics endpoint: its status (0 when nothing answered) and body.</summary>
    public async Task<(int Status, string Body)> GetAsync(string path, double seconds = 1)
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
            using var r = await Http.GetAsync(new Uri(MetricsUri, path), cts.Token);
            return ((int)r.StatusCode, await r.Content.ReadAsStringAsync(cts.Token));
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
        {
            return (0, e.Message);
        }
    }

    /// <summary>Scrapes <c>/metrics</c> and sums the samples of <paramref name="name"/> (every label set); 0 when it has none.</summary>
    public async Task<double> MetricAsync(string name)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var text = await Http.GetStringAsync(new Uri(MetricsUri, "/metrics"), cts.Token);
        return SumSamples(text, name);
    }

    /// <summary>The sum of the samples named <paramref name="name"/> in a Prometheus text exposition.</summary>
    public static double SumSamples(string exposition, string name)
    {
        double sum = 0;
        foreach (var raw in exposition.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#' || !line.StartsWith(name, StringComparison.Ordinal) || line.Length == name.Length) continue;
            string rest;
            if (line[name.Length] == '{')
            {
                var close = line.LastIndexOf('}');
                if (close < 0) continue;
                rest = line[(close + 1)..];
            }
            else if (line[name.Length] == ' ') rest = line[name.Length..];
            else continue; // a longer name with the same prefix
            var value = rest.Trim().Split(' ')[0];
            if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)) sum += v;
        }
        return sum;
    }

    /// <summary>SIGTERM (a graceful stop).</summary>
    public void Terminate() => Signal("TERM");

    /// <summary>SIGKILL, then waits until the process is gone: no goodbye to Redis or FreeSWITCH.</summary>
    public async Task Kill9Async()
    {
        if (!HasExited) Signal("KILL");
        await _p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>SIGSTOP: the process is frozen, its sockets stay open.</summary>
    public void Pause() => Signal("STOP");

    /// <summary>SIGCONT.</summary>
    public void Resume() => Signal("CONT");

    private void Signal(string name)
    {
        if (HasExited) throw new InvalidOperationException($"{Name} (pid {_pid}) has exited: cannot send SIG{name}");
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-" + name, _pid.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false })!;
        kill.WaitForExit();
        if (kill.ExitCode != 0 && !_p.HasExited) throw new InvalidOperationException($"kill -{name} {_pid} failed with {kill.ExitCode}");
    }

    /// <summary>The process's output, for failure messages (the last <paramref name="lines"/> lines of each stream).</summary>
    public string Dump(int lines = 200)
    {
        var o = Out.ToArray();
        var e = Err.ToArray();
        var state = Volatile.Read(ref _disposed) == 1 ? ", disposed" : _p.HasExited ? $", exited {_p.ExitCode}" : "";
        return $"--- {Name} (pid {Pid}{state}) stdout, last {Math.Min(lines, o.Length)} of {o.Length} lines:\n"
               + string.Join("\n", o.TakeLast(lines))
               + $"\n--- {Name} stderr:\n" + string.Join("\n", e.TakeLast(lines));
    }

    private void KillNow()
    {
        try
        {
            if (!_p.HasExited) _p.Kill(entireProcessTree: true); // SIGKILL; also ends a stopped (SIGSTOP) process
        }
        catch (Exception) { /* already gone */ }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        KillNow();
        try { await _p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)); }
        catch (TimeoutException) { /* reported by the orphan check of the tests that care */ }
        Running.TryRemove(this, out _);
        _p.Dispose();
    }
}
