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
/// <c>list</c> shows (0 = oldest), or the entry's dial_id (which does not move when other entries go). A requeued job goes to the tail of JOB_LIST; its <c>redswitch.dialled.&lt;dial_id&gt;</c>
/// mark is cleared only with <c>--clear-dialled</c>, and never while the call's state hash exists.
/// </summary>
internal static class DeadVerb
{
    // Deletes the dialled mark only as it was read (same value, set over a minute ago): a mark a dispatcher set
    // meanwhile — the dial_id dialled again by another requeue — stays. KEYS: the mark. ARGV: value, PTTL ceiling.
    private const string ClearMark = """
        local v = redis.call('GET', KEYS[1])
        if not v then return 0 end
        if v ~= ARGV[1] then return -1 end
        if redis.call('PTTL', KEYS[1]) > tonumber(ARGV[2]) then return -2 end
        redis.call('DEL', KEYS[1])
        return 1
        """;

    public static Command Build()
    {
        var limit = new Option<int>("--limit") { Description = "Show the newest N entries (0: all).", DefaultValueFactory = _ => 20 };
        var list = new Command("list", "List the dead-lettered jobs: index, when, cause, dial_id, job.") { limit };
        list.SetAction((r, ct) => Cli.Run("dead list", ct, _ => ListAsync(r.GetValue(limit))));

        var index = new Argument<string>("entry") { Description = "The entry's dial_id (stable), or its index as `dead list` shows it (a position: it moves when entries before it go)." };
        var clear = new Option<bool>("--clear-dialled") { Description = "Also delete the dial_id's dialled mark, so the job is dialled again (refused while the call's state hash exists)." };
        var requeue = new Command("requeue", "Put a dead-lettered job back at the tail of JOB_LIST.") { index, clear };
        requeue.SetAction((r, ct) => Cli.Run("dead requeue", ct, _ => RequeueAsync(r.GetValue(index)!, r.GetValue(clear))));

        var dropIndex = new Argument<string>("entry") { Description = "The entry's dial_id (stable), or its index as `dead list` shows it." };
        var drop = new Command("drop", "Delete one dead-lettered job.") { dropIndex };
        drop.SetAction((r, ct) => Cli.Run("dead drop", ct, _ => DropAsync(r.GetValue(dropIndex)!)));

        var cmd = new Command("dead", "Inspect the dead-letter list and requeue or drop its jobs (no sub-command: list).") { list, requeue, drop, };
        cmd.SetAction((r, ct) => Cli.Run("dead", ct, _ => ListAsync(20)));
        return cmd;
    }

    internal sealed record Entry(string Wrapped, string? Job, string? Cause, long? At, string? DialId)
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

    /// <summary>The entry an operator named: by dial_id (one entry only), or by index.</summary>
    private static async Task<(CliEnvironment, ConnectionMultiplexer, Entry, string Name)> EntryAsync(string which)
    {
        var byIndex = long.TryParse(which, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index);
        if (!byIndex && !FieldRules.IsId(which)) throw new CliException($"'{which}' is neither an index nor a dial_id", CliExit.Usage);
        var env = CliEnvironment.Load();
        var redis = await env.ConnectRedisAsync();
        try
        {
            var db = redis.GetDatabase();
            if (byIndex)
            {
                var raw = await db.ListGetByIndexAsync(env.Keys.Dead, index);
                if (raw.IsNull) throw new CliException($"{env.Keys.Dead} has no entry {index} (see `dead list`)");
                return (env, redis, Entry.Parse(raw!), $"entry {index}");
            }
            var all = await db.ListRangeAsync(env.Keys.Dead);
            var found = all.Select((v, i) => (Entry: Entry.Parse(v!), Index: i)).Where(x => x.Entry.DialId == which).ToList();
            return found.Count switch
            {
                0 => throw new CliException($"{env.Keys.Dead} holds no job of {which} (see `dead list`)"),
                1 => (env, redis, found[0].Entry, which),
                _ => throw new CliException($"{env.Keys.Dead} holds {found.Count} jobs of {which}, at {string.Join(", ", found.Select(f => f.Index))}: give the index"),
            };
        }
        catch
        {
            await redis.DisposeAsync();
            throw;
        }
    }

    private static async Task<int> RequeueAsync(string which, bool clearDialled)
    {
        var (env, redis, e, name) = await EntryAsync(which);
        await using var _ = redis;
        var db = redis.GetDatabase();
        if (e.Job is null) throw new CliException($"{name} holds no job to requeue (drop it): {e.Wrapped}");
        var parsed = JobParser.Parse(e.Job);
        if (parsed.Job is null)
            throw new CliException($"{name} is a job the service refuses ({parsed.Cause}): requeued, it would be dead-lettered again; drop it or push a corrected one");
        // (created_at as the service reads it: the parser's, not a second reading of the job)
        var age = parsed.Job.CreatedAt is { } at ? DateTimeOffset.UtcNow.ToUnixTimeSeconds() - (long)at : 0;
        if (age > env.Options.JobMaxAgeSeconds)
            throw new CliException($"the job's created_at is {age} s old (JOB_MAX_AGE={env.Options.JobMaxAgeSeconds}): " +
                "it would be refused as expired; push it again with `push` instead");
        RedisValue mark = RedisValue.Null;
        if (e.DialId is not null)
        {
            await RefuseWhileTheCallExistsAsync(db, e.DialId);
            mark = await db.StringGetAsync(RedisKeys.Dialled(e.DialId));
            if (!mark.IsNull && !clearDialled)
                throw new CliException($"{e.DialId} was dialled ({RedisKeys.Dialled(e.DialId)} exists): requeued, it would be dead-lettered again as 'already dialled'. " +
                    "Requeue with --clear-dialled to dial it again (a phone may already have rung for it: cause was '" + e.Cause + "')");
        }

        // Taken out first: of two operators requeueing one entry, one goes on. Whatever refuses from here puts it back.
        if (await db.ListRemoveAsync(env.Keys.Dead, e.Wrapped, 1) == 0)
            throw new CliException($"{name} changed meanwhile (requeued or dropped by someone else): nothing done");
        try
        {
            if (e.DialId is not null)
            {
                await RefuseWhileTheCallExistsAsync(db, e.DialId);
                if (!mark.IsNull)
                {
                    // Cleared before the job is back: a job taken first would find the mark and be dead-lettered again.
                    var cleared = (long)await db.ScriptEvaluateAsync(ClearMark, [RedisKeys.Dialled(e.DialId)],
                        [mark, (RedisKeys.DialledTtl - 60) * 1000L]);
                    if (cleared < 0)
                        throw new CliException($"{e.DialId} was dialled {(cleared == -1 ? "again meanwhile" : "less than a minute ago")} ({RedisKeys.Dialled(e.DialId)}): not requeued");
                }
                await RefuseWhileTheCallExistsAsync(db, e.DialId);
            }
        }
        catch
        {
            await db.ListRightPushAsync(env.Keys.Dead, e.Wrapped);
            throw;
        }
        var length = await db.ListRightPushAsync(env.Options.JobList, e.Job);
        Console.Out.WriteLine($"requeued {e.DialId ?? "the job"} to {env.Options.JobList} ({length} waiting)");
        return CliExit.Ok;
    }

    /// <summary>SPEC §10: never while the call's state hash exists (it is live, being taken over, or in its grace).</summary>
    private static async Task RefuseWhileTheCallExistsAsync(IDatabase db, string dialId)
    {
        var state = RedisKeys.CallState(dialId);
        if (!await db.KeyExistsAsync(state)) return;
        throw new CliException((await db.HashExistsAsync(state, CallState.EndedAt)
            ? $"{dialId}'s call ended less than 60 s ago"
            : $"{dialId} has a live call (or one being taken over)") + $" ({state} exists): not requeued");
    }

    private static async Task<int> DropAsync(string which)
    {
        var (env, redis, e, name) = await EntryAsync(which);
        await using var _ = redis;
        if (await redis.GetDatabase().ListRemoveAsync(env.Keys.Dead, e.Wrapped, 1) == 0)
            throw new CliException($"{name} changed meanwhile (requeued or dropped by someone else): nothing done");
        Console.Out.WriteLine($"dropped {e.DialId ?? name}: {e.Job ?? e.Wrapped}");
        return CliExit.Ok;
    }
}
