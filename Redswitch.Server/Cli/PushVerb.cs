using System.CommandLine;
using System.Text;
using System.Text.Json;
using StackExchange.Redis;
using Redswitch.Calls;
using Redswitch.Calls.Jobs;
using Redswitch.Server.Redis;

namespace Redswitch.Server.Cli;

/// <summary>
/// <c>push</c>: an asp-call job onto JOB_LIST (SPEC §3.1), checked as the service will check it, with a fresh
/// <c>dial_id</c> unless one is given; <c>--watch</c> follows the call's channel until the call is over.
/// </summary>
internal static class PushVerb
{
    public static Command Build()
    {
        var caller = new Option<string>("--caller") { Description = "caller_number: the phone rung first (side 0).", Required = true };
        var callee = new Option<string>("--callee") { Description = "callee_number: the phone rung once the caller answers (side 1).", Required = true };
        var callerIdA = new Option<string?>("--caller-id-a") { Description = "caller_id_lega: what the caller's phone shows (default: the callee's number)." };
        var callerIdB = new Option<string?>("--caller-id-b") { Description = "caller_id_legb: what the callee's phone shows (default: the caller's number)." };
        var provider = new Option<string>("--provider") { Description = "call_provider: the gateway in DIAL_TEMPLATE.", DefaultValueFactory = _ => "talk_call_provider" };
        var org = new Option<string>("--org") { Description = "org_id.", DefaultValueFactory = _ => "cli" };
        var user = new Option<string>("--user") { Description = "user_id.", DefaultValueFactory = _ => "cli" };
        var dialId = new Option<string?>("--dial-id") { Description = "dial_id (default: a fresh one, printed). A dial_id already dialled is refused here: the service would dead-letter the job." };
        var noCreatedAt = new Option<bool>("--no-created-at") { Description = "Leave created_at out (by default it is now, so the job expires after JOB_MAX_AGE instead of ringing someone late)." };
        var watch = new Option<bool>("--watch") { Description = "Follow the call's channel until the call is over (exit 1 if the job failed)." };
        var seconds = new Option<double>("--seconds") { Description = "With --watch: give up after this many seconds (default: wait for the end).", DefaultValueFactory = _ => 0 };
        var cmd = new Command("push", "Push an asp-call job onto JOB_LIST; with --watch, follow the call until it is over.")
        {
            caller, callee, callerIdA, callerIdB, provider, org, user, dialId, noCreatedAt, watch, seconds,
        };
        cmd.SetAction((r, ct) => Cli.Run("push", ct, async token =>
        {
            var id = r.GetValue(dialId) ?? "cli-" + Guid.NewGuid().ToString("N")[..20];
            // A number shows as a caller id; a SIP URI does not: then the operator says what to show (a bad number is
            // reported as the job's problem below).
            string Shown(Option<string?> flag, string number) => r.GetValue(flag) ?? (FieldRules.IsCallerId(number) || !FieldRules.IsPhoneNumber(number) ? number
                : throw new CliException($"{number} cannot be shown as a caller id: give {flag.Name}", CliExit.Usage));
            var raw = Job(id, r.GetValue(org)!, r.GetValue(user)!, r.GetValue(provider)!, r.GetValue(caller)!, r.GetValue(callee)!,
                Shown(callerIdA, r.GetValue(callee)!), Shown(callerIdB, r.GetValue(caller)!),
                r.GetValue(noCreatedAt) ? null : DateTimeOffset.UtcNow.ToUnixTimeSeconds());
            var check = JobParser.Parse(raw);
            if (check.Job is null) throw new CliException($"the job would be refused: {check.Cause}", CliExit.Usage);
            var limit = r.GetValue(seconds);
            if (limit < 0) throw new CliException("--seconds must not be negative", CliExit.Usage);

            var env = CliEnvironment.Load();
            await using var redis = await env.ConnectRedisAsync();
            var db = redis.GetDatabase();
            if (await db.KeyExistsAsync(RedisKeys.Dialled(id)))
                throw new CliException($"{id} was dialled already ({RedisKeys.Dialled(id)} exists): the service would dead-letter this job; use a fresh dial_id");
            // Subscribed before the push, so not even call-start is missed.
            var queue = r.GetValue(watch) ? await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(id)) : null;
            var waiting = await db.ListRightPushAsync(env.Options.JobList, raw);
            Console.Out.WriteLine($"pushed {id} to {env.Options.JobList} ({waiting} waiting)");
            if (queue is null) return CliExit.Ok;
            return await FollowAsync(env, db, queue, id, raw, limit, token);
        }));
        return cmd;
    }

    private static string Job(string dialId, string org, string user, string provider, string caller, string callee, string idA, string idB, long? createdAt)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("type", "asp-call");
            w.WriteString("call_provider", provider);
            w.WriteString("callee_number", callee);
            w.WriteString("caller_id_lega", idA);
            w.WriteString("caller_id_legb", idB);
            w.WriteString("caller_number", caller);
            w.WriteString("dial_id", dialId);
            w.WriteString("org_id", org);
            w.WriteString("user_id", user);
            if (createdAt is { } at) w.WriteNumber("created_at", at);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>
    /// Prints the channel until the call is over (see <see cref="OverAsync"/>), or until the job is known to have
    /// come to nothing: a <c>failure</c>, or the job found in the dead-letter list (an "already dialled" job is
    /// dead-lettered without a word on the channel).
    /// </summary>
    public static async Task<int> FollowAsync(CliEnvironment env, IDatabase db, ChannelMessageQueue queue, string dialId, string raw, double seconds, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (seconds > 0) stop.CancelAfter(TimeSpan.FromSeconds(seconds));
        var started = false;
        var hungUp = new HashSet<string>();
        var hinted = false;
        var since = DateTime.UtcNow;
        var lastLook = DateTime.MinValue;
        var hashSeen = false;
        while (true)
        {
            ChannelMessage? m = null;
            using (var tick = CancellationTokenSource.CreateLinkedTokenSource(stop.Token))
            {
                tick.CancelAfter(TimeSpan.FromMilliseconds(500));
                try
                {
                    m = ChannelMessage.Parse((await queue.ReadAsync(tick.Token)).Message.ToString());
                }
                catch (OperationCanceledException) when (!stop.IsCancellationRequested)
                {
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    throw new CliException($"{dialId}: not over after {seconds} s");
                }
            }
            if (m is { } msg)
            {
                CliOutput.Message(msg.Raw);
                if (msg.IsJobFailure) throw new CliException($"{dialId}: the job failed: {msg.Cause}");
                if (msg.Type == "call-start") started = true;
                if (msg.Type == "hangup-event" && msg.Side is not null) hungUp.Add(msg.Side);
                continue; // read what is queued before asking Redis
            }
            if (DateTime.UtcNow - lastLook < TimeSpan.FromSeconds(1)) continue;
            lastLook = DateTime.UtcNow;
            switch (await StateAsync(db, dialId, hungUp))
            {
                case CallFate.Over:
                case CallFate.Gone when hashSeen || hungUp.Count > 0: // its grace passed while we were not looking
                    while (queue.TryRead(out var late)) CliOutput.Message(late.Message.ToString());
                    return CliExit.Ok;
                case CallFate.Gone when !started:
                    if (await DeadLetterCauseAsync(db, env, raw) is { } cause) throw new CliException($"{dialId}: the job was dead-lettered: {cause}");
                    if (!hinted && DateTime.UtcNow - since > TimeSpan.FromSeconds(5) && await WaitingAsync(db, env, raw))
                    {
                        hinted = true;
                        CliOutput.Note($"(no call-start after 5 s: the job waits in {env.Options.JobList}; is an instance taking jobs? see `check`)");
                    }
                    break;
                case CallFate.Live:
                    hashSeen = true;
                    break;
            }
        }
    }

    private enum CallFate { Live, Over, Gone }

    /// <summary>
    /// Over: the hash has <c>ended_at</c>, written behind the call's last hangup-event, and each side whose
    /// hangup-event the hash records (<c>ev.hangup.N</c>, set by the script that published it) was printed — the
    /// subscription may bring a message later than this connection brings the hash — or <c>ended_at</c> is over
    /// 5 s old (a message lost while the subscription reconnected is not waited for).
    /// </summary>
    private static async Task<CallFate> StateAsync(IDatabase db, string dialId, HashSet<string> printed)
    {
        var f = await db.HashGetAsync(RedisKeys.CallState(dialId), [CallState.EndedAt, CallState.HungUp(0), CallState.HungUp(1), CallState.HungUp(2), CallState.Owner]);
        if (!f[4].HasValue && !f[0].HasValue) return CallFate.Gone;
        if (!f[0].HasValue) return CallFate.Live;
        if (long.TryParse(f[0].ToString(), out var endedAt) && DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - endedAt > 5000) return CallFate.Over;
        for (var side = 0; side < 3; side++)
            if (f[side + 1].HasValue && !printed.Contains(side.ToString(System.Globalization.CultureInfo.InvariantCulture))) return CallFate.Live;
        return CallFate.Over;
    }

    /// <summary>The job still in JOB_LIST (LPOS; a Redis older than 6.0.6 has none, and then nobody is told).</summary>
    private static async Task<bool> WaitingAsync(IDatabase db, CliEnvironment env, string raw)
    {
        try { return await db.ListPositionAsync(env.Options.JobList, raw) >= 0; }
        catch (RedisServerException) { return false; }
    }

    /// <summary>The cause, when the job is among the newest dead letters.</summary>
    private static async Task<string?> DeadLetterCauseAsync(IDatabase db, CliEnvironment env, string raw)
    {
        foreach (var entry in await db.ListRangeAsync(env.Keys.Dead, -200, -1))
        {
            var e = DeadVerb.Entry.Parse(entry!);
            if (e.Job == raw) return e.Cause ?? "?";
        }
        return null;
    }
}
