using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using StackExchange.Redis;
using Redswitch.Calls;
using Redswitch.Server.Redis;

namespace Redswitch.Server.Cli;

/// <summary>
/// <c>calls</c>: the live calls of every instance (SPEC §10), from what take-over reads (§8.1): the instances set,
/// each one's index set <c>{redswitch}.owned.&lt;id&gt;</c>, each call's state hash. No SCAN of the keyspace.
/// </summary>
internal static class CallsVerb
{
    public static Command Build()
    {
        var org = new Option<string?>("--org") { Description = "Only the calls of this org_id." };
        var user = new Option<string?>("--user") { Description = "Only the calls of this user_id." };
        var all = new Option<bool>("--all") { Description = "Also calls that ended and are in their 60 s grace." };
        var json = new Option<bool>("--json") { Description = "One JSON object per call instead of a table." };
        var cmd = new Command("calls", "List live calls: dial_id, owner instance, FreeSWITCH node, sides up, age.") { org, user, all, json };
        cmd.SetAction((r, ct) => Cli.Run("calls", ct, async token =>
        {
            var env = CliEnvironment.Load();
            await using var redis = await env.ConnectRedisAsync();
            var db = redis.GetDatabase();
            var nowMs = await RedisNowMsAsync(db);
            var instances = await db.SortedSetRangeByRankWithScoresAsync(RedisKeys.Instances);
            var calls = new List<Row>();
            var seen = new HashSet<string>();
            foreach (var instance in instances)
            {
                var lapsed = instance.Score < nowMs;
                // a claim's SMOVE between two reads shows a call under both instances: the hash names its owner
                var ids = (await db.SetMembersAsync(RedisKeys.Owned(instance.Element!))).Where(id => seen.Add(id!)).ToArray();
                var hashes = await Task.WhenAll(ids.Select(id => db.HashGetAllAsync(RedisKeys.CallState(id!))));
                for (var i = 0; i < ids.Length; i++)
                {
                    var f = hashes[i].ToDictionary(e => e.Name.ToString(), e => e.Value.ToString());
                    if (f.Count == 0) continue; // its hash is gone: ended and past its grace
                    var row = Row.From(ids[i]!, instance.Element!, lapsed, f, nowMs);
                    if (row.Ended && !r.GetValue(all)) continue;
                    if (r.GetValue(org) is { } o && row.Org != o) continue;
                    if (r.GetValue(user) is { } u && row.User != u) continue;
                    calls.Add(row);
                }
            }
            calls.Sort((a, b) => b.AgeMs.CompareTo(a.AgeMs));
            if (r.GetValue(json))
            {
                foreach (var c in calls) Console.Out.WriteLine(JsonSerializer.Serialize(c.ToJson()));
                return CliExit.Ok;
            }
            if (calls.Count == 0)
            {
                Console.Out.WriteLine(r.GetValue(all) ? "no calls" : "no live calls");
                return CliExit.Ok;
            }
            string[] header = ["DIAL_ID", "OWNER", "NODE", "SIDES_UP", "AGE", "ORG", "USER"];
            var rows = calls.Select(c => c.Cells()).Prepend(header).ToList();
            var widths = Enumerable.Range(0, header.Length).Select(i => rows.Max(row => row[i].Length)).ToArray();
            foreach (var row in rows) Console.Out.WriteLine(string.Join("  ", row.Select((cell, i) => cell.PadRight(widths[i]))).TrimEnd());
            return CliExit.Ok;
        }));
        return cmd;
    }

    /// <summary>Redis's clock, as the leases use it.</summary>
    internal static async Task<long> RedisNowMsAsync(IDatabase db)
    {
        var t = (RedisResult[])(await db.ExecuteAsync("TIME"))!;
        return (long)t[0] * 1000 + (long)t[1] / 1000;
    }

    private sealed record Row(string DialId, string Owner, bool OwnerLapsed, string Node, string SidesUp, long AgeMs, bool Ended, string Org, string User)
    {
        public static Row From(string dialId, string instance, bool lapsed, Dictionary<string, string> f, long nowMs)
        {
            string Get(string name) => f.TryGetValue(name, out var v) ? v : "";
            bool Set(string name) => f.TryGetValue(name, out var v) && v.Length > 0 && v != "0";
            var up = Enumerable.Range(0, 3).Where(s => Set(CallState.Answered(s)) && !Set(CallState.HungUp(s))).Select(s => s.ToString(CultureInfo.InvariantCulture));
            var age = long.TryParse(Get(CallState.TakenAt), NumberStyles.Integer, CultureInfo.InvariantCulture, out var taken) ? Math.Max(0, nowMs - taken) : -1;
            var owner = Get(CallState.Owner) is { Length: > 0 } o ? o : instance;
            return new Row(dialId, owner, lapsed && owner == instance, Get(CallState.Node), string.Join(",", up), age,
                Get(CallState.EndedAt).Length > 0, Get(CallState.OrgId), Get(CallState.UserId));
        }

        public string[] Cells() =>
        [
            DialId, Owner + (OwnerLapsed ? " (lease lapsed)" : ""), Node, SidesUp.Length == 0 ? (Ended ? "ended" : "-") : SidesUp,
            AgeMs < 0 ? "?" : CliOutput.Age(TimeSpan.FromMilliseconds(AgeMs)), Org, User,
        ];

        public Dictionary<string, object?> ToJson() => new()
        {
            ["dial_id"] = DialId, ["owner"] = Owner, ["owner_lapsed"] = OwnerLapsed, ["node"] = Node,
            ["sides_up"] = SidesUp.Length == 0 ? Array.Empty<string>() : SidesUp.Split(','),
            ["age_s"] = AgeMs < 0 ? null : AgeMs / 1000.0, ["ended"] = Ended, ["org_id"] = Org, ["user_id"] = User,
        };
    }
}
