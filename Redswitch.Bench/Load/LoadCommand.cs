using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using StackExchange.Redis;

namespace Redswitch.Bench.Load;

/// <summary>
/// <c>load</c>: drives the real stack — a redis-server, the simulator and the server, each its own process on
/// 127.0.0.1 — with N calls at R calls/s and M control messages/s, and prints one JSON line: set-up latency
/// (job pushed → answer side 1 seen), control round trip (PUBLISH → ack seen), Redswitch CPU per call and RSS per
/// live call at peak (from /proc). Every phase is bounded in time; everything it starts it stops.
/// </summary>
public static class LoadCommand
{
    private sealed class Settings
    {
        public int Calls = 1000;
        public double Rate = 200;
        public double ControlRate = 500;
        public double ControlSeconds = 10;
        public int Barged = 100;
        public int Warmup = 200;
        public string Configuration = "Release";
        public string? Root;
        public double TimeoutSeconds = 600;
        /// <summary>Server on core 0, Redis, the simulator and the driver on core 1: the figures are the server's.</summary>
        public bool Pin;
    }

    private const string Usage =
        "usage: Redswitch.Bench load [--calls N=1000] [--rate R=200] [--controls M=500] [--control-seconds S=10]\n" +
        "                            [--barged K=100] [--warmup W=200] [--configuration Release|Debug] [--root DIR] [--timeout S=600]\n" +
        "                            [--pin]  (server on CPU 0, everything else on CPU 1: taskset)\n" +
        "Needs redis-server on PATH and a built solution (dotnet build Redswitch.sln -c Release).\n" +
        "Prints one JSON line: set-up and control round-trip percentiles (ms), the server's own share of a control\n" +
        "(server_control_ms_*_le: the upper bound of its histogram bucket), server CPU per call (set-up and hang-up\n" +
        "apart) and per control, its context switches per call (wake-ups), and RSS per live call at the peak.";

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Any(a => a is "--help" or "-h"))
        {
            Console.WriteLine(Usage);
            return 0;
        }
        Settings s;
        try { s = Parse(args); }
        catch (Exception e) when (e is FormatException or ArgumentException or IndexOutOfRangeException)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(Usage);
            return 2;
        }
        var root = s.Root ?? FindRoot();
        if (root is null) { Console.Error.WriteLine("load: cannot find Redswitch.sln above the current directory (use --root)"); return 2; }
        var serverDll = Path.Combine(root, "Redswitch.Server", "bin", s.Configuration, "net10.0", "Redswitch.Server.dll");
        var simDll = Path.Combine(root, "Redswitch.Simulator", "bin", s.Configuration, "net10.0", "Redswitch.Simulator.dll");
        foreach (var dll in new[] { serverDll, simDll })
            if (!File.Exists(dll)) { Console.Error.WriteLine($"load: {dll} not found; run dotnet build Redswitch.sln -c {s.Configuration}"); return 2; }

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(s.TimeoutSeconds));
        var procs = new List<Child>();
        try
        {
            var redisPort = FreePort();
            var simPort = FreePort();
            var outPort = FreePort();
            var metricsPort = FreePort();
            int? serverCpu = null, otherCpu = null;
            if (s.Pin)
            {
                if (!OperatingSystem.IsLinux() || Environment.ProcessorCount < 2) { Console.Error.WriteLine("load: --pin needs Linux and two CPUs"); return 2; }
                (serverCpu, otherCpu) = (0, 1);
                Process.GetCurrentProcess().ProcessorAffinity = 2; // the driver itself on CPU 1
            }
            procs.Add(Child.Start("redis", "redis-server", $"--port {redisPort} --bind 127.0.0.1 --save '' --appendonly no --loglevel warning", null, otherCpu));
            procs.Add(Child.Start("sim", "dotnet", $"{simDll} --listen 127.0.0.1:{simPort} --quiet --heartbeat 0", null, otherCpu));
            await WaitPortAsync(redisPort, deadline.Token);
            await WaitPortAsync(simPort, deadline.Token);
            var redis = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{redisPort},abortConnect=false,syncTimeout=15000,asyncTimeout=15000");
            var server = Child.Start("server", "dotnet", serverDll, new Dictionary<string, string>
            {
                ["ESL_URL"] = $"127.0.0.1:{simPort}",
                ["PUBSUB_REDIS_URL"] = $"redis://127.0.0.1:{redisPort}",
                ["OUTBOUND_LISTEN"] = $"127.0.0.1:{outPort}",
                ["METRICS_LISTEN"] = $"127.0.0.1:{metricsPort}",
                ["INSTANCE_ID"] = "bench",
                ["LOG_FORMAT"] = "text",
                ["DRAIN_TIMEOUT"] = "5",
                ["RING_TIMEOUT"] = "30",
            }, serverCpu);
            procs.Add(server);
            await server.WaitForLineAsync("Redswitch ready", deadline.Token);

            var run = new Run(redis, server.Pid);
            await run.StartAsync();

            // Warm-up: JIT, pools, connections; then let it settle and take the baseline RSS.
            if (s.Warmup > 0)
            {
                var warm = await run.SetUpAsync("warm", s.Warmup, Math.Min(s.Rate, 500), deadline.Token);
                await run.HangUpAsync(warm, Math.Min(s.Rate, 500), deadline.Token);
                await Task.Delay(2000, deadline.Token);
            }
            var rss0 = ProcStat.RssKb(server.Pid);
            var cpu0 = ProcStat.CpuSeconds(server.Pid);
            var switches0 = ProcStat.ContextSwitches(server.Pid);

            var calls = await run.SetUpAsync("call", s.Calls, s.Rate, deadline.Token);
            var cpuSetUp = ProcStat.CpuSeconds(server.Pid) - cpu0;
            var switchesSetUp = ProcStat.ContextSwitches(server.Pid) - switches0;
            await Task.Delay(1000, deadline.Token);
            var rssPeak = ProcStat.RssKb(server.Pid);
            var live = calls.Count(c => c.Answered1 > 0);

            // Controls: barge K calls, then whisper/mute alternately at M/s across them.
            var cpuC0 = ProcStat.CpuSeconds(server.Pid);
            var barged = calls.Where(c => c.Answered1 > 0).Take(s.Barged).ToList();
            await run.BargeAsync(barged, deadline.Token);
            var hist0 = await ControlHistogramAsync(metricsPort); // after the barges: the mode changes alone
            var controls = await run.ControlsAsync(barged, s.ControlRate, s.ControlSeconds, deadline.Token);
            var cpuControls = ProcStat.CpuSeconds(server.Pid) - cpuC0;
            var hist1 = await ControlHistogramAsync(metricsPort);
            // The server's own part of the round trip (message received → FreeSWITCH accepted), from its histogram:
            // the upper bound of the bucket holding the percentile.
            var inServer = hist1.Select(b => (b.Le, Count: b.Count - (hist0.FirstOrDefault(a => a.Le == b.Le).Count))).ToList();

            var cpuH0 = ProcStat.CpuSeconds(server.Pid);
            var switchesH0 = ProcStat.ContextSwitches(server.Pid);
            await run.HangUpAsync(calls, s.Rate, deadline.Token);
            var cpuHangup = ProcStat.CpuSeconds(server.Pid) - cpuH0;
            var switchesCall = switchesSetUp + ProcStat.ContextSwitches(server.Pid) - switchesH0;

            var setup = calls.Where(c => c.Answered1 > 0).Select(c => (c.Answered1 - c.Pushed) * 1000.0 / Stopwatch.Frequency).ToList();
            var rtt = controls.Where(c => c > 0).ToList();
            var result = new StringBuilder("{");
            void Field(string name, object value) => result.Append(result.Length > 1 ? ", " : "").Append('"').Append(name).Append("\": ").Append(
                value switch { double d => d.ToString("0.###", CultureInfo.InvariantCulture), string str => "\"" + str + "\"", _ => Convert.ToString(value, CultureInfo.InvariantCulture) });
            Field("calls", s.Calls);
            Field("rate_per_s", s.Rate);
            Field("calls_answered", live);
            Field("setup_ms_p50", Pct(setup, 50));
            Field("setup_ms_p99", Pct(setup, 99));
            Field("controls", rtt.Count);
            Field("control_rate_per_s", s.ControlRate);
            Field("control_failures", controls.Count(c => c < 0));
            Field("control_ms_p50", Pct(rtt, 50));
            Field("control_ms_p99", Pct(rtt, 99));
            Field("server_control_ms_p50_le", BucketPct(inServer, 50) * 1000);
            Field("server_control_ms_p99_le", BucketPct(inServer, 99) * 1000);
            Field("cpu_ms_per_call", (cpuSetUp + cpuHangup) * 1000 / Math.Max(1, s.Calls));
            Field("cpu_ms_per_call_setup", cpuSetUp * 1000 / Math.Max(1, s.Calls));
            Field("cpu_ms_per_call_hangup", cpuHangup * 1000 / Math.Max(1, s.Calls));
            Field("cpu_ms_per_control", cpuControls * 1000 / Math.Max(1, rtt.Count + barged.Count));
            Field("calls_per_cpu_second", s.Calls / Math.Max(1e-9, cpuSetUp + cpuHangup));
            Field("ctxsw_per_call", switchesCall / (double)Math.Max(1, s.Calls));
            Field("pinned", s.Pin ? "server cpu0, rest cpu1" : "no");
            Field("rss_kb_idle", rssPeak > 0 ? rss0 : 0);
            Field("rss_kb_peak", rssPeak);
            Field("rss_kb_per_live_call", live > 0 ? (rssPeak - rss0) / (double)live : 0);
            Field("hangups_seen", calls.Count(c => c.HungUp >= (c.Answered1 > 0 ? 2 : 1)));
            Field("failures_seen", run.Failures.Values.Sum());
            if (!run.Failures.IsEmpty) Console.Error.WriteLine("failures: " + string.Join("; ", run.Failures.Select(kv => $"{kv.Value} x {kv.Key}")));
            result.Append('}');
            Console.WriteLine(result);
            await run.DisposeAsync();
            return 0;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine($"load: gave up after {s.TimeoutSeconds} s");
            return 1;
        }
        finally
        {
            foreach (var p in Enumerable.Reverse(procs)) await p.StopAsync();
        }
    }

    private static async Task<List<(double Le, double Count)>> ControlHistogramAsync(int metricsPort)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var text = await http.GetStringAsync($"http://127.0.0.1:{metricsPort}/metrics");
        var buckets = new List<(double, double)>();
        foreach (var line in text.Split('\n'))
        {
            const string prefix = "redswitch_control_latency_seconds_bucket{le=\"";
            if (!line.StartsWith(prefix, StringComparison.Ordinal)) continue;
            var end = line.IndexOf('"', prefix.Length);
            var le = line[prefix.Length..end];
            var count = double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
            buckets.Add((le == "+Inf" ? double.PositiveInfinity : double.Parse(le, CultureInfo.InvariantCulture), count));
        }
        return buckets;
    }

    /// <summary>The upper bound of the cumulative-histogram bucket where the p-th percentile falls.</summary>
    private static double BucketPct(List<(double Le, double Count)> cumulative, double p)
    {
        var total = cumulative.Count == 0 ? 0 : cumulative[^1].Count;
        if (total <= 0) return 0;
        foreach (var (le, count) in cumulative)
            if (count >= p / 100 * total) return le;
        return double.PositiveInfinity;
    }

    private static double Pct(List<double> values, double p)
    {
        if (values.Count == 0) return 0;
        values.Sort();
        return values[Math.Clamp((int)Math.Ceiling(p / 100 * values.Count) - 1, 0, values.Count - 1)];
    }

    private static Settings Parse(string[] args)
    {
        var s = new Settings();
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--pin")
            {
                s.Pin = true;
                continue;
            }
            var v = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--calls": s.Calls = int.Parse(v, CultureInfo.InvariantCulture); break;
                case "--rate": s.Rate = double.Parse(v, CultureInfo.InvariantCulture); break;
                case "--controls": s.ControlRate = double.Parse(v, CultureInfo.InvariantCulture); break;
                case "--control-seconds": s.ControlSeconds = double.Parse(v, CultureInfo.InvariantCulture); break;
                case "--barged": s.Barged = int.Parse(v, CultureInfo.InvariantCulture); break;
                case "--warmup": s.Warmup = int.Parse(v, CultureInfo.InvariantCulture); break;
                case "--configuration": s.Configuration = v; break;
                case "--root": s.Root = v; break;
                case "--timeout": s.TimeoutSeconds = double.Parse(v, CultureInfo.InvariantCulture); break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
            i++;
        }
        if (s.Calls < 1 || s.Rate <= 0 || s.ControlRate < 0 || s.Barged < 0) throw new ArgumentException("counts and rates must be positive");
        return s;
    }

    private static string? FindRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "Redswitch.sln"))) return d.FullName;
        }
        return null;
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    private static async Task WaitPortAsync(int port, CancellationToken ct)
    {
        for (var i = 0; i < 300; i++)
        {
            try
            {
                using var c = new TcpClient();
                await c.ConnectAsync(IPAddress.Loopback, port, ct);
                return;
            }
            catch (SocketException) { await Task.Delay(100, ct); }
        }
        throw new TimeoutException($"nothing listens on 127.0.0.1:{port}");
    }

    private sealed class Call(string dialId)
    {
        public readonly string DialId = dialId;
        public long Pushed;
        public long Answered1;
        public int HungUp;
        public TaskCompletionSource<long>? Pending;
    }

    /// <summary>One measured run: pushes jobs, watches every dial_id channel through one pattern subscription.</summary>
    private sealed class Run(ConnectionMultiplexer redis, int serverPid) : IAsyncDisposable
    {
        private readonly ConcurrentDictionary<string, Call> _calls = new();
        private readonly IDatabase _db = redis.GetDatabase();
        private readonly string _prefix = "bench-" + Guid.NewGuid().ToString("N")[..6] + "-";
        private ChannelMessageQueue? _queue;
        public int ServerPid => serverPid;
        public readonly ConcurrentDictionary<string, int> Failures = new();

        public async Task StartAsync()
        {
            _queue = await redis.GetSubscriber().SubscribeAsync(RedisChannel.Pattern(_prefix + "*"));
            _queue.OnMessage(m =>
            {
                var now = Stopwatch.GetTimestamp();
                if (!_calls.TryGetValue((string)m.Channel!, out var call)) return;
                var text = (string)m.Message!;
                if (text.StartsWith("{\"type\": \"answer-event\", \"side\": \"1\"", StringComparison.Ordinal)) Volatile.Write(ref call.Answered1, now);
                else if (text.StartsWith("{\"type\": \"hangup-event\"", StringComparison.Ordinal)) Interlocked.Increment(ref call.HungUp);
                else if (text.StartsWith("{\"type\": \"ack\"", StringComparison.Ordinal)) call.Pending?.TrySetResult(now);
                else if (text.StartsWith("{\"type\": \"failure\"", StringComparison.Ordinal))
                {
                    Failures.AddOrUpdate(text, 1, (_, n) => n + 1);
                    call.Pending?.TrySetResult(-1);
                }
            });
        }

        public async Task<List<Call>> SetUpAsync(string tag, int n, double rate, CancellationToken ct)
        {
            var list = new List<Call>(n);
            var sw = Stopwatch.StartNew();
            for (var i = 0; i < n; i++)
            {
                var due = TimeSpan.FromSeconds(i / rate);
                if (due > sw.Elapsed) await Task.Delay(due - sw.Elapsed, ct);
                var call = new Call($"{_prefix}{tag}-{i}");
                _calls[call.DialId] = call;
                list.Add(call);
                var job = $"{{\"type\": \"asp-call\", \"call_provider\": \"bench\", \"callee_number\": \"1415{i % 1000000:D6}7\", \"caller_id_lega\": \"15105625882\", \"caller_id_legb\": \"14157697098\", \"caller_number\": \"1510{i % 1000000:D6}1\", \"dial_id\": \"{call.DialId}\", \"org_id\": \"bench\", \"user_id\": \"u{i % 100}\"}}";
                call.Pushed = Stopwatch.GetTimestamp();
                _ = _db.ListRightPushAsync("talkiq-asp.calls", job, flags: CommandFlags.FireAndForget);
            }
            // wait (bounded) until every call was answered on side 1 or failed
            var until = DateTime.UtcNow.AddSeconds(30 + n / 200.0);
            while (list.Any(c => Volatile.Read(ref c.Answered1) == 0 && Volatile.Read(ref c.HungUp) == 0) && DateTime.UtcNow < until)
                await Task.Delay(100, ct);
            return list;
        }

        public async Task BargeAsync(List<Call> calls, CancellationToken ct)
        {
            var tasks = new List<Task<long>>();
            foreach (var c in calls)
            {
                c.Pending = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
                tasks.Add(c.Pending.Task);
                _ = _db.PublishAsync(RedisChannel.Literal(c.DialId), "{\"type\": \"barge\", \"phone_number\": \"15550000777\", \"caller_id\": \"777\"}", CommandFlags.FireAndForget);
            }
            await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(30), ct);
            await Task.Delay(1000, ct); // the barge legs answer after 200 ms
        }

        /// <summary>whisper / mute alternately, round robin over the barged calls, one outstanding per call.</summary>
        public async Task<List<double>> ControlsAsync(List<Call> calls, double rate, double seconds, CancellationToken ct)
        {
            var results = new ConcurrentBag<double>();
            if (calls.Count == 0 || rate == 0) return [];
            var total = (int)(rate * seconds);
            var sw = Stopwatch.StartNew();
            var inflight = new List<Task>();
            for (var i = 0; i < total; i++)
            {
                var due = TimeSpan.FromSeconds(i / rate);
                if (due > sw.Elapsed) await Task.Delay(due - sw.Elapsed, ct);
                var call = calls[i % calls.Count];
                if (call.Pending is { Task.IsCompleted: false }) continue; // still waiting: skip this slot
                var tcs = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
                call.Pending = tcs;
                var sent = Stopwatch.GetTimestamp();
                var msg = (i / calls.Count) % 2 == 0 ? "{\"type\": \"whisper\"}" : "{\"type\": \"mute\"}";
                _ = _db.PublishAsync(RedisChannel.Literal(call.DialId), msg, CommandFlags.FireAndForget);
                inflight.Add(tcs.Task.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(t =>
                    results.Add(t.IsCompletedSuccessfully && t.Result > 0 ? (t.Result - sent) * 1000.0 / Stopwatch.Frequency : -1), TaskScheduler.Default));
            }
            await Task.WhenAll(inflight).WaitAsync(TimeSpan.FromSeconds(15), ct);
            return results.ToList();
        }

        public async Task HangUpAsync(List<Call> calls, double rate, CancellationToken ct)
        {
            var sw = Stopwatch.StartNew();
            for (var i = 0; i < calls.Count; i++)
            {
                var due = TimeSpan.FromSeconds(i / rate);
                if (due > sw.Elapsed) await Task.Delay(due - sw.Elapsed, ct);
                _ = _db.PublishAsync(RedisChannel.Literal(calls[i].DialId), "{\"type\": \"hangup\"}", CommandFlags.FireAndForget);
            }
            var until = DateTime.UtcNow.AddSeconds(30 + calls.Count / 200.0);
            while (calls.Any(c => Volatile.Read(ref c.HungUp) < (c.Answered1 > 0 ? 2 : 1)) && DateTime.UtcNow < until)
                await Task.Delay(100, ct);
        }

        public async ValueTask DisposeAsync()
        {
            if (_queue is not null) await _queue.UnsubscribeAsync();
            await redis.CloseAsync();
        }
    }

    /// <summary>/proc figures of one process (Linux).</summary>
    private static class ProcStat
    {
        public static double CpuSeconds(int pid)
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // fields[11] = utime, fields[12] = stime (fields 14 and 15 of proc(5), counted after the comm field)
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return ticks / 100.0;
        }

        /// <summary>Voluntary and involuntary context switches of every thread: the process's wake-ups.</summary>
        public static long ContextSwitches(int pid)
        {
            long sum = 0;
            foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                try
                {
                    foreach (var line in File.ReadLines(Path.Combine(task, "status")))
                        if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal) || line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                            sum += long.Parse(line[(line.IndexOf(':') + 1)..].Trim(), CultureInfo.InvariantCulture);
                }
                catch (IOException) { /* a thread that just ended */ }
            }
            return sum;
        }

        public static long RssKb(int pid)
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            return 0;
        }
    }

    /// <summary>A child process with a raised descriptor limit, its output kept for "ready" lines and errors.</summary>
    private sealed class Child
    {
        private readonly Process _p;
        private readonly ConcurrentQueue<string> _lines = new();
        private readonly string _name;

        private Child(string name, Process p)
        {
            _name = name;
            _p = p;
        }

        public int Pid => _p.Id;

        public static Child Start(string name, string exe, string args, Dictionary<string, string>? env, int? cpu = null)
        {
            var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add($"ulimit -n 65535 2>/dev/null; exec {(cpu is { } c ? $"taskset -c {c} " : "")}{exe} {args}");
            if (env is not null) foreach (var kv in env) psi.Environment[kv.Key] = kv.Value;
            var p = Process.Start(psi) ?? throw new InvalidOperationException($"{name} did not start");
            var child = new Child(name, p);
            p.OutputDataReceived += (_, e) => { if (e.Data is not null) child.Keep(e.Data); };
            p.ErrorDataReceived += (_, e) => { if (e.Data is not null) child.Keep(e.Data); };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            return child;
        }

        private void Keep(string line)
        {
            _lines.Enqueue(line);
            while (_lines.Count > 200) _lines.TryDequeue(out _);
        }

        public async Task WaitForLineAsync(string text, CancellationToken ct)
        {
            var until = DateTime.UtcNow.AddSeconds(60);
            while (!_lines.Any(l => l.Contains(text, StringComparison.Ordinal)))
            {
                if (_p.HasExited || DateTime.UtcNow > until)
                    throw new InvalidOperationException($"{_name} did not get ready:\n{string.Join("\n", _lines)}");
                await Task.Delay(50, ct);
            }
        }

        public async Task StopAsync()
        {
            if (_p.HasExited) return;
            try
            {
                Process.Start("kill", ["-TERM", _p.Id.ToString(CultureInfo.InvariantCulture)])?.WaitForExit();
                await _p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(15));
            }
            catch (Exception)
            {
                try { _p.Kill(true); } catch (InvalidOperationException) { }
            }
        }
    }
}
