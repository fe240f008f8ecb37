using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using StackExchange.Redis;
using Redswitch.Calls;
using Redswitch.Calls.Jobs;
using Redswitch.Server.Redis;

namespace Redswitch.Server.Cli;

/// <summary>
/// <c>dead [list|requeue N|drop N]</c>: the dead-letter list <c>{JOB_LIST}.dead</c> (SPEC §3.2). N is the index
/// <c>list</c> shows (0 = oldest). A requeued job goes to the tail of JOB_LIST; its <c>redswitch.dialled.&lt;dial_id&gt;</c>
/// mark is cleared only with <c>--clear-dialled</c>, and never while the call's state hash exists.
/// </summary>
internal static class DeadVerb
{
    // Remove exactly that entry and push its job, in one step: two operators requeueing the same entry queue one job.
    // KEYS: dead list, job list (one slot: {JOB_LIST}). ARGV: the entry, the job.
    private const string Requeue = """
        if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return -1 end
        return redis.call('RPUSH', KEYS[2], ARGV[2])
        """;

    public static Command Build()
    {
        var limit = new Option<int>("--limit") { Description = "Show the newest N entries (0: all).", DefaultValueFactory = _ => 20 };
        var list = new Command("list", "List the dead-lettered jobs: index, when, cause, dial_id, job.") { limit };
        list.SetAction((r, ct) => Cli.Run("dead list", ct, _ => ListAsync(r.GetValue(limit))));

        var index = new Argument<int>("N") { Description = "The entry's index, as `dead list` shows it." };
        var clear = new Option<bool>("--clear-dialled") { Description = "Also delete the dial_id's dialled mark, so the job is dialled again (refused while the call's state hash exists)." };
        var requeue = new Command("requeue", "Put a dead-lettered job back at the tail of JOB_LIST.") { index, clear };
        requeue.SetAction((r, ct) => Cli.Run("dead requeue", ct, _ => RequeueAsync(r.GetValue(index), r.GetValue(clear))));

        var dropIndex = new Argument<int>("N") { Description = "The entry's index, as `dead list` shows it." };
        var drop = new Command("drop", "Delete one dead-lettered job.") { dropIndex };
        drop.SetAction((r, ct) => Cli.Run("dead drop", ct, _ => DropAsync(r.GetValue(dropIndex))));

        var cmd = new Command("dead", "Inspect the dead-letter list and requeue or drop its jobs (no sub-command: list).") { list, requeue, drop, };
        cmd.SetAction((r, ct) => Cli.Run("dead", ct, _ => ListAsync(20)));
        return cmd;
    }

    private sealed record Entry(string Wrapped, string? Job, string? Cause, long? At, string? DialId)
    {
        public static Entry Parse(string wrapped)
        {
            try
            {
                using var doc = JsonDocument.Parse(wrapped);
                var root = doc.RootElement;
                string? S(string n) => root.TryGetProperty(n, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
                long? at = root.TryGetProperty("at", out var a) && a.TryGetInt64(out var n) ? n : null;
                var job = S("job");
                return new Entry(wrapped, job, S("cause"), at, job is null ? null : JobParser.Parse(job).DialId);
            }
            catch (JsonException)
            {
                return new Entry(wrapped, null, null, null, null);
            }
        }
    }

    private static async Task<int> ListAsync(int limit)
    {
        if (limit < 0) throw new CliException("--limit must not be negative", CliExit.Usage);
        var env = CliEnvironment.Load();
        await using var redis = await env.ConnectRedisAsync();
        var db = redis.GetDatabase();
        var total = await db.ListLengthAsync(env.Keys.Dead);
        if (total == 0)
        {
            Console.Out.WriteLine($"{env.Keys.Dead} is empty");
            return CliExit.Ok;
        }
        var first = limit == 0 ? 0 : Math.Max(0, total - limit);
        var entries = await db.ListRangeAsync(env.Keys.Dead, first, -1);
        Console.Out.WriteLine($"{env.Keys.Dead}: {total} job(s){(first > 0 ? $", the newest {entries.Length} shown" : "")}");
        for (var i = 0; i < entries.Length; i++)
        {
            var e = Entry.Parse(entries[i]!);
            var when = e.At is { } at ? DateTimeOffset.FromUnixTimeSeconds(at).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture) : "?";
            Console.Out.WriteLine($"{first + i}  {when}  {e.Cause ?? "?"}  {e.DialId ?? "-"}  {e.Job ?? e.Wrapped}");
        }
        return CliExit.Ok;
    }

    private static async Task<(CliEnvironment, ConnectionMultiplexer, Entry)> EntryAsync(int index)
    {
        if (index < 0) throw new CliException("N must not be negative", CliExit.Usage);
        var env = CliEnvironment.Load();
        var redis = await env.ConnectRedisAsync();
        var raw = await redis.GetDatabase().ListGetByIndexAsync(env.Keys.Dead, index);
        if (raw.IsNull)
        {
            await redis.DisposeAsync();
            throw new CliException($"{env.Keys.Dead} has no entry {index} (see `dead list`)");
        }
        return (env, redis, Entry.Parse(raw!));
    }

    private static async Task<int> RequeueAsync(int index, bool clearDialled)
    {
        var (env, redis, e) = await EntryAsync(index);
        await using var _ = redis;
        var db = redis.GetDatabase();
        if (e.Job is null) throw new CliException($"entry {index} holds no job to requeue (drop it): {e.Wrapped}");
        if (JobParser.Parse(e.Job) is { Job: null } refused)
            throw new CliException($"entry {index} is a job the service refuses ({refused.Cause}): requeued, it would be dead-lettered again; drop it or push a corrected one");
        var created = CreatedAt(e.Job);
        if (created is { } c && DateTimeOffset.UtcNow.ToUnixTimeSeconds() - c > env.Options.JobMaxAgeSeconds)
            throw new CliException($"the job's created_at is {DateTimeOffset.UtcNow.ToUnixTimeSeconds() - c} s old (JOB_MAX_AGE={env.Options.JobMaxAgeSeconds}): " +
                "it would be refused as expired; push it again with `push` instead");
        if (e.DialId is not null)
        {
            var state = RedisKeys.CallState(e.DialId);
            if (await db.KeyExistsAsync(state))
                throw new CliException((await db.HashExistsAsync(state, CallState.EndedAt)
                    ? $"{e.DialId}'s call ended less than 60 s ago"
                    : $"{e.DialId} has a live call (or one being taken over)") + $" ({state} exists): not requeued");
            var dialled = RedisKeys.Dialled(e.DialId);
            if (await db.KeyExistsAsync(dialled))
            {
                if (!clearDialled)
                    throw new CliException($"{e.DialId} was dialled ({dialled} exists): requeued, it would be dead-lettered again as 'already dialled'. " +
                        "Requeue with --clear-dialled to dial it again (a phone may already have rung for it: cause was '" + e.Cause + "')");
                // Cleared before the job is back: a job taken first would find the mark and be dead-lettered again.
                await db.KeyDeleteAsync(dialled);
            }
        }
        var length = (long)await db.ScriptEvaluateAsync(Requeue, [env.Keys.Dead, env.Options.JobList], [e.Wrapped, e.Job]);
        if (length < 0) throw new CliException($"entry {index} changed meanwhile (requeued or dropped by someone else): nothing done");
        Console.Out.WriteLine($"requeued {e.DialId ?? "the job"} to {env.Options.JobList} ({length} waiting)");
        return CliExit.Ok;
    }

    private static async Task<int> DropAsync(int index)
    {
        var (env, redis, e) = await EntryAsync(index);
        await using var _ = redis;
        if (await redis.GetDatabase().ListRemoveAsync(env.Keys.Dead, e.Wrapped, 1) == 0)
            throw new CliException($"entry {index} changed meanwhile (requeued or dropped by someone else): nothing done");
        Console.Out.WriteLine($"dropped {e.DialId ?? "entry " + index}: {e.Job ?? e.Wrapped}");
        return CliExit.Ok;
    }

    private static long? CreatedAt(string job)
    {
        try
        {
            using var doc = JsonDocument.Parse(job, new JsonDocumentOptions { AllowTrailingCommas = true });
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("created_at", out var v) && v.TryGetDouble(out var d)
                ? (long)d : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
