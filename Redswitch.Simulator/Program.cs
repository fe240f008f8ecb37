using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using Redswitch.Simulator;

return await SimulatorCli.RunAsync(args).ConfigureAwait(false);

/// <summary>The command line of the simulator (SPEC §9, §11).</summary>
internal static class SimulatorCli
{
    public const string Help = """
        Redswitch.Simulator — a FreeSWITCH stand-in speaking the Event Socket protocol (inbound and outbound).

        Usage: Redswitch.Simulator [options]

        Options:
          --listen <ip:port>        inbound ESL listener (default 127.0.0.1:8021; port 0 = any free port)
          --password <text>         password expected by 'auth' (default ClueCon)
          --answer-delay <ms>       how long an ordinary phone rings before answering (default 200)
          --ring-timeout <ms>       how long a ...408 phone rings before NO_ANSWER (default 1000)
          --hangup-delay <ms>       how long a ...480 phone stays up after answering (default 1000)
          --gateways <a,b,...>      only these sofia/gateway/<name>/... gateways dial; others fail with
                                    NO_ROUTE_DESTINATION (default: any gateway name dials)
          --hostname <name>         FreeSWITCH-Hostname of events (default redswitch-sim)
          --heartbeat <seconds>     HEARTBEAT interval, 0 = none (default 20)
          --quiet                   no per-call log lines
          -h, --help                show this text

        Phones, by the last three digits of the dialled number (the text after the last '/', before any '@'):
          486 busy (USER_BUSY), 408 rings then NO_ANSWER, 603 CALL_REJECTED, 404 UNALLOCATED_NUMBER,
          480 answers then hangs up (NORMAL_CLEARING), anything else answers and stays up.

        Logs one line per call on stdout, a ready line once listening; stops cleanly on Ctrl-C / SIGTERM.
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        var options = new SimulatorOptions();
        bool quiet = false;
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "-h" or "--help":
                        Console.Out.WriteLine(Help);
                        return 0;
                    case "--listen":
                        {
                            var v = Next();
                            if (!IPEndPoint.TryParse(v, out var ep)) throw new ArgumentException($"--listen: '{v}' is not ip:port");
                            options.ListenAddress = ep.Address;
                            options.Port = ep.Port;
                            break;
                        }
                    case "--password": options.Password = Next(); break;
                    case "--answer-delay": options.AnswerDelay = Ms(Next(), "--answer-delay"); break;
                    case "--ring-timeout": options.RingTimeout = Ms(Next(), "--ring-timeout"); break;
                    case "--hangup-delay": options.HangupDelay = Ms(Next(), "--hangup-delay"); break;
                    case "--gateways":
                        options.Gateways = new HashSet<string>(Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), StringComparer.Ordinal);
                        break;
                    case "--hostname": options.Hostname = Next(); break;
                    case "--heartbeat":
                        {
                            var s = Next();
                            if (!int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var secs)) throw new ArgumentException($"--heartbeat: '{s}' is not a number of seconds");
                            options.HeartbeatInterval = secs == 0 ? null : TimeSpan.FromSeconds(secs);
                            break;
                        }
                    case "--quiet": quiet = true; break;
                    default: throw new ArgumentException($"unknown option '{args[i]}' (see --help)");
                }
            }
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine("redswitch-simulator: " + e.Message);
            return 2;
        }

        if (!quiet) options.Log = line => Console.Out.WriteLine(line);
        SimulatorHost host;
        try
        {
            host = await SimulatorHost.StartAsync(options).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"redswitch-simulator: cannot listen on {options.ListenAddress}:{options.Port}: {e.Message}");
            return 1;
        }

        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult(); });
        using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.TrySetResult(); });
        Console.Out.WriteLine($"redswitch-simulator listening on {host.EndPoint} (inbound ESL); ready");
        await stop.Task.ConfigureAwait(false);
        try
        {
            await host.StopAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            Console.Out.WriteLine("redswitch-simulator stopped");
        }
        catch (TimeoutException)
        {
            Console.Out.WriteLine("redswitch-simulator stopped (event loops did not finish within 10 s)");
        }
        Console.Out.Flush();
        // event-loop threads must not keep the process alive
        Environment.Exit(0);
        return 0;
    }

    private static TimeSpan Ms(string s, string name) =>
        int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
            ? TimeSpan.FromMilliseconds(ms)
            : throw new ArgumentException($"{name}: '{s}' is not a number of milliseconds");
}
