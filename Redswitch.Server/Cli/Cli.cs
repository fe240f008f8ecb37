using System.CommandLine;
using System.CommandLine.Help;
using Redswitch.Calls.Jobs;

namespace Redswitch.Server.Cli;

/// <summary>
/// The operator's verbs in the server binary (SPEC §10, §11): <c>push</c>, <c>send</c>, <c>watch</c>, <c>calls</c>,
/// <c>dead</c>, <c>check</c>. Each reads the service's environment, prints results on stdout and, when it cannot do
/// what was asked, exactly one line on stderr: exit 0 done, 1 failed, 2 bad arguments.
/// </summary>
internal static class Cli
{
    public static async Task<int> RunAsync(string[] args)
    {
        var root = new RootCommand("Redswitch: places and controls FreeSWITCH calls for other services, through Redis. " +
            "No arguments: run the service. Verbs read the service's environment variables (PUBSUB_REDIS_URL, JOB_LIST, ESL_URL, ESL_PASSWORD, METRICS_LISTEN, …).")
        {
            PushVerb.Build(), SendVerb.Build(), WatchVerb.Build(), CallsVerb.Build(), DeadVerb.Build(), CheckVerb.Build(),
        };
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0 && parsed.Action is not HelpAction)
        {
            var path = new List<string>();
            for (var r = parsed.CommandResult; r is not null && r.Command != root; r = r.Parent as System.CommandLine.Parsing.CommandResult)
                path.Insert(0, r.Command.Name);
            var verb = path.Count == 0 ? "" : " " + string.Join(" ", path);
            // An unknown word explains itself better than "required command was not provided" does
            var error = parsed.Errors.FirstOrDefault(e => parsed.UnmatchedTokens.Any(t => e.Message.Contains(t, StringComparison.Ordinal))) ?? parsed.Errors[0];
            Console.Error.WriteLine($"redswitch{verb}: {string.Join(" ", error.Message.Split(['\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).TrimEnd('.')} (see redswitch{verb} --help)");
            return CliExit.Usage;
        }
        return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(5) });
    }

    /// <summary>
    /// Runs a verb's body: a <see cref="CliException"/> becomes its one line on stderr and its exit code. Ctrl-C or
    /// SIGTERM is how <c>watch</c> ends (<paramref name="stopIsDone"/>); any other verb stopped that way did not finish
    /// (`timeout 5 redswitch send … hangup` must not look like an ack).
    /// </summary>
    public static async Task<int> Run(string verb, CancellationToken ct, Func<CancellationToken, Task<int>> body, bool stopIsDone = false)
    {
        try
        {
            return await body(ct);
        }
        catch (CliException e)
        {
            Console.Error.WriteLine($"redswitch {verb}: {e.Message}");
            return e.ExitCode;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            if (stopIsDone) return CliExit.Ok;
            Console.Error.WriteLine($"redswitch {verb}: interrupted before it finished");
            return CliExit.Failed;
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException or IOException or System.Net.Sockets.SocketException)
        {
            Console.Error.WriteLine($"redswitch {verb}: {LogText.FirstLine(e.Message)}");
            return CliExit.Failed;
        }
    }

    /// <summary>A dial_id as jobs must carry it (SPEC §6): a verb never sends what the service would refuse.</summary>
    public static string DialId(string? value) =>
        FieldRules.IsId(value) ? value! : throw new CliException($"'{value}' is not a valid dial_id (1 to 128 letters, digits, '_', ':' or '-')", CliExit.Usage);
}
