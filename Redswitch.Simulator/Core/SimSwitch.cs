using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Redswitch.Simulator.Dial;
using Redswitch.Simulator.Esl;

namespace Redswitch.Simulator.Core;

/// <summary>Opens outbound ESL connections for the <c>socket</c> application.</summary>
internal interface IOutboundConnector
{
    /// <summary>Connects; calls <paramref name="onConnected"/> (core thread) with the transport, or <paramref name="onFailed"/>.</summary>
    void Connect(string host, int port, Func<IEslTransport, EslSession> onConnected, Action onFailed);
}

/// <summary>
/// The simulated switch: channels, calls, applications and the event stream. Every state change happens on one
/// single-threaded executor (the "core"); timers are scheduled on it, so no thread is held per channel.
/// </summary>
public sealed partial class SimSwitch
{
    internal readonly CoreLoop Core;
    internal readonly EventBus Bus = new();
    private readonly Dictionary<string, Channel> _channels = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<EslSession> _sessions = new();
    private readonly ConcurrentDictionary<string, PhoneBehaviour> _overrides = new();
    private readonly string _coreUuid = NewUuid();
    /// <summary>What <c>status</c> and <c>uptime</c> count from: moved on by a stall, as FreeSWITCH does (see <see cref="WatchClock"/>).</summary>
    private DateTime _startedUtc = DateTime.UtcNow;
    private long _lastClockTick = System.Diagnostics.Stopwatch.GetTimestamp();
    private ITimerHandle? _clockWatch;
    private long _sequence = 1000;
    private long _sessionId;
    private long _sessionsSinceStartup;
    private int _peak;
    private volatile int _live;
    private ITimerHandle? _heartbeat;

    internal SimSwitch(SimulatorOptions options)
    {
        Options = options;
        Core = new CoreLoop("redswitch-sim-core", e => Options.Log?.Invoke("simulator core error: " + e));
        if (options.HeartbeatInterval is { } hb) _heartbeat = Core.Schedule(Heartbeat, hb);
        _clockWatch = Core.Schedule(WatchClock, ClockTick);
    }

    private static readonly TimeSpan ClockTick = TimeSpan.FromSeconds(1);

    /// <summary>A stall longer than this is noticed as a clock jump (FreeSWITCH: "Virtual Migration Detected! Syncing Clock").</summary>
    internal static readonly TimeSpan StallIsAClockJump = TimeSpan.FromSeconds(3);

    /// <summary>
    /// FreeSWITCH's timer notices when its clock jumped (the process was stopped, the VM paused): it logs "Virtual
    /// Migration Detected! Syncing Clock" and moves its start time on, so its uptime leaves the stall out
    /// (switch_time.c: runtime.initiated); its Core-UUID stays. Commands already received run on as if nothing happened.
    /// A node stopped for longer than it had been up thus looks younger than the outage: uptime is no restart test.
    /// </summary>
    private void WatchClock()
    {
        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        var gap = System.Diagnostics.Stopwatch.GetElapsedTime(_lastClockTick, now);
        _lastClockTick = now;
        if (gap > ClockTick + StallIsAClockJump)
        {
            _startedUtc += gap - ClockTick;
            Options.Log?.Invoke($"Virtual Migration Detected! Syncing Clock (stalled {gap.TotalSeconds:F1} s; the uptime leaves it out)");
        }
        _clockWatch = Core.Schedule(WatchClock, ClockTick);
    }

    private System.Threading.ManualResetEventSlim? _stall;

    /// <summary>
    /// Stops the core, as SIGSTOP stops FreeSWITCH: no reply, no event, no timer; connections stay open and what arrives
    /// on them (commands, closes) waits, in order, for <see cref="Unstall"/>.
    /// </summary>
    internal void Stall()
    {
        var gate = new System.Threading.ManualResetEventSlim(false);
        if (Interlocked.CompareExchange(ref _stall, gate, null) is not null) return;
        Post(() => gate.Wait());
    }

    internal void Unstall() => Interlocked.Exchange(ref _stall, null)?.Set();

    public SimulatorOptions Options { get; }

    /// <summary>See <see cref="SimulatorHost.CommandFaults"/>.</summary>
    internal volatile Func<string, CommandFault?>? CommandFaults;
    internal IOutboundConnector? Connector { get; set; }

    public long SessionsSinceStartup => Interlocked.Read(ref _sessionsSinceStartup);
    public int LiveChannels => _live;

    public static string NewUuid() => Guid.NewGuid().ToString();

    internal void Post(Action a) => Core.Execute(a);

    internal ITimerHandle Schedule(TimeSpan delay, Action a) => Core.Schedule(a, delay < TimeSpan.Zero ? TimeSpan.Zero : delay);

    /// <summary>Runs a function on the core thread and returns its result.</summary>
    internal Task<T> Invoke<T>(Func<T> f)
    {
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!Core.Execute(() =>
            {
                try { tcs.SetResult(f()); }
                catch (Exception e) { tcs.SetException(e); }
            }))
            tcs.SetException(new ObjectDisposedException(nameof(SimulatorHost), "the simulator has stopped"));
        return tcs.Task;
    }

    internal Task ShutdownAsync()
    {
        Unstall();
        _heartbeat?.Cancel();
        _clockWatch?.Cancel();
        return Core.StopAsync();
    }

    public void SetBehaviour(string number, PhoneBehaviour behaviour) => _overrides[number] = behaviour;
    public void ClearBehaviour(string number) => _overrides.TryRemove(number, out _);
    public void ClearBehaviours() => _overrides.Clear();

    /// <summary>The behaviour of a dialled number: a per-number override, else SPEC §9's last-three-digits rule.</summary>
    public PhoneBehaviour BehaviourFor(string number)
    {
        if (_overrides.TryGetValue(number, out var b)) return b;
        var tail = number.Length >= 3 ? number[^3..] : number;
        return tail switch
        {
            "486" => PhoneBehaviour.Busy,
            "408" => PhoneBehaviour.NoAnswer(Options.RingTimeout),
            "603" => PhoneBehaviour.Rejected,
            "404" => PhoneBehaviour.Unallocated,
            "480" => PhoneBehaviour.AnswerThenHangup(Options.HangupDelay),
            _ => PhoneBehaviour.AnswerAfterDelay(Options.AnswerDelay),
        };
    }

    internal Channel? FindChannel(string uuid) =>
        uuid.Length > 0 && _channels.TryGetValue(uuid, out var ch) && !ch.Destroyed ? ch : null;

    internal IEnumerable<Channel> AllChannels => _channels.Values;

    // ------------------------------------------------------------------ sessions

    internal EslSession AddInboundSession(IEslTransport t)
    {
        var s = new EslSession(this, t, outbound: false, bound: null, async: true, full: true);
        _sessions.Add(s);
        s.Start();
        return s;
    }

    internal void RemoveSession(EslSession s) => _sessions.Remove(s);

    /// <summary>Breaks the inbound connections, and the outbound ones bound to <paramref name="uuid"/>, as a network fault would.</summary>
    internal int BreakConnections(bool inbound, string? uuid)
    {
        var broken = 0;
        var outbound = uuid is null ? [] : FindChannel(uuid)?.Sessions.Where(s => s.Outbound).ToList() ?? [];
        foreach (var s in (inbound ? _sessions.Where(s => !s.Outbound) : []).Concat(outbound).ToList())
        {
            if (s.Closed) continue;
            s.BreakConnection();
            broken++;
        }
        return broken;
    }

    // ------------------------------------------------------------------ events

    private static long NowMicros() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) / 10;

    internal List<KeyValuePair<string, string>> StandardHeaders(string name, string file, string func, int line)
    {
        var now = DateTime.UtcNow;
        var seq = Interlocked.Increment(ref _sequence);
        return
        [
            new("Event-Name", name),
            new("Core-UUID", _coreUuid),
            new("FreeSWITCH-Hostname", Options.Hostname),
            new("FreeSWITCH-Switchname", Options.Hostname),
            new("FreeSWITCH-IPv4", "127.0.0.1"),
            new("FreeSWITCH-IPv6", "::1"),
            new("Event-Date-Local", now.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)),
            new("Event-Date-GMT", now.ToString("ddd, dd MMM yyyy HH:mm:ss 'GMT'", CultureInfo.InvariantCulture)),
            new("Event-Date-Timestamp", NowMicros().ToString(CultureInfo.InvariantCulture)),
            new("Event-Calling-File", file),
            new("Event-Calling-Function", func),
            new("Event-Calling-Line-Number", line.ToString(CultureInfo.InvariantCulture)),
            new("Event-Sequence", seq.ToString(CultureInfo.InvariantCulture)),
        ];
    }

    internal void Publish(SimEvent ev) => Bus.Publish(ev);

    /// <summary>Fires a channel event: standard headers, <paramref name="before"/>, channel data, <paramref name="after"/>.</summary>
    private void FireChannel(Channel ch, string name, string file, string func, int line, bool withVars,
        IEnumerable<KeyValuePair<string, string>>? before = null, IEnumerable<KeyValuePair<string, string>>? after = null)
    {
        if (!Bus.MightWant(name, ch.Uuid) && !(name == "DTMF" && ch.Sessions.Any(s => s.DivertEvents))) return; // nobody can receive it
        var h = StandardHeaders(name, file, func, line);
        if (before != null) h.AddRange(before);
        ch.AddChannelData(h, withVars);
        if (after != null)
            foreach (var kv in after)
                if (!string.IsNullOrEmpty(kv.Value)) h.Add(kv);
        var ev = new SimEvent(name, h, null) { ChannelUuid = ch.Uuid };
        if (name == "DTMF" && ch.Sessions.FirstOrDefault(s => s.DivertEvents && !s.Closed) is { } diverted)
        {
            // divert_events on: events the channel queues for itself go to its controlling socket only
            diverted.Deliver(ev);
            return;
        }
        Publish(ev);
    }

    internal List<KeyValuePair<string, string>> ChannelDataHeaders(Channel ch)
    {
        var h = StandardHeaders("CHANNEL_DATA", "mod_event_socket.c", "parse_command", 2029);
        // the connect reply carries the caller profile with prefix Channel- first
        ch.AddProfile(h, "Channel-", zeroTimes: false, withIndex: true);
        ch.AddChannelData(h, withVars: true);
        return h;
    }

    private void Heartbeat()
    {
        var h = StandardHeaders("HEARTBEAT", "switch_core.c", "send_heartbeat", 95);
        var up = DateTime.UtcNow - _startedUtc;
        h.Add(new("Event-Info", "System Ready"));
        h.Add(new("Up-Time", UpTimeText(up)));
        h.Add(new("FreeSWITCH-Version", "1.10.12-release~64bit"));
        h.Add(new("Uptime-msec", ((long)up.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)));
        h.Add(new("Session-Count", _live.ToString(CultureInfo.InvariantCulture)));
        h.Add(new("Max-Sessions", "1000000"));
        h.Add(new("Session-Per-Sec", "30000"));
        h.Add(new("Session-Per-Sec-Last", "0"));
        h.Add(new("Session-Per-Sec-Max", "0"));
        h.Add(new("Session-Per-Sec-FiveMin", "0"));
        h.Add(new("Session-Since-Startup", SessionsSinceStartup.ToString(CultureInfo.InvariantCulture)));
        h.Add(new("Session-Peak-Max", _peak.ToString(CultureInfo.InvariantCulture)));
        h.Add(new("Session-Peak-FiveMin", _peak.ToString(CultureInfo.InvariantCulture)));
        h.Add(new("Idle-CPU", "99.000000"));
        Publish(new SimEvent("HEARTBEAT", h, null));
        if (Options.HeartbeatInterval is { } hb) _heartbeat = Core.Schedule(Heartbeat, hb);
    }

    /// <summary>As FreeSWITCH writes it: a unit is singular when its count is 1 ("1 day, 2 hours").</summary>
    internal static string UpTimeText(TimeSpan up)
    {
        var us = (up.Ticks / 10) % 1000;
        static string N(long n, string unit) => string.Create(CultureInfo.InvariantCulture, $"{n} {unit}{(n == 1 ? "" : "s")}");
        return $"{N(0, "year")}, {N(up.Days, "day")}, {N(up.Hours, "hour")}, {N(up.Minutes, "minute")}, {N(up.Seconds, "second")}, {N(up.Milliseconds, "millisecond")}, {N(us, "microsecond")}";
    }

    internal string SendEvent(string args, EslRequest req)
    {
        var name = args.Split(' ', 2)[0].ToUpperInvariant();
        if (!EventNames.All.Contains(name) || name == "ALL") name = "CUSTOM";
        var id = NewUuid();
        var h = new List<KeyValuePair<string, string>>();
        h.Add(new("Command", req.Line));
        foreach (var kv in req.Headers) h.Add(kv);
        h.Add(new("Event-UUID", id));
        var std = StandardHeaders(name, "mod_event_socket.c", "parse_command", 2264);
        std.AddRange(h);
        var uid = req.Header("Unique-ID");
        var ch = uid != null ? FindChannel(uid) : null;
        if (ch != null && req.Header("eavesdrop-command") is { } cmd)
        {
            foreach (var c in cmd) EavesdropDigit(ch, c);
            return id;
        }
        Publish(new SimEvent(name, std, string.IsNullOrEmpty(req.Body) ? null : req.Body));
        return id;
    }

    // ------------------------------------------------------------------ logging

    private void LogCall(Channel ch)
    {
        var log = Options.Log;
        if (log == null) return;
        var dur = ch.HangupTime > 0 && ch.CreatedTime > 0 ? (ch.HangupTime - ch.CreatedTime) / 1000 : 0;
        var bill = ch.AnsweredTime > 0 ? (ch.HangupTime - ch.AnsweredTime) / 1000 : 0;
        try
        {
            log($"call uuid={ch.Uuid} name={ch.Name} number={ch.Number} answered={(ch.IsAnswered ? "yes" : "no")} cause={ch.HangupCause} duration_ms={dur} billed_ms={bill}");
        }
        catch (Exception) { /* logging must never break the switch */ }
    }
}
