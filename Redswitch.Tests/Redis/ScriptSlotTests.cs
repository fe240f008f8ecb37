using System.Text;
using System.Text.RegularExpressions;
using Redswitch.Server.Redis;
using Redswitch.Server.Redis.Outbox;
using StackExchange.Redis;

namespace Redswitch.Tests.Redis;

/// <summary>
/// Every script the outbox runs touches keys of one hash slot only (SPEC §8.1; Redis Cluster refuses anything else):
/// the slots are computed here as Redis Cluster computes them (CRC16/XMODEM of the hash tag or the whole key, mod 16384).
/// </summary>
public class ScriptSlotTests
{
    private static readonly string[] DialIds = ["d1", "dial-7f3a9c", "with.dots.and-dashes", "{braced}", "a}b{c", "x{}y", "ünïcode-ïd", "42"];
    private static readonly string[] Orgs = ["org1", "o.2", "{org}"];
    private static readonly string[] Users = ["u1", "user.9", "{u}"];
    private static readonly string[] JobLists = ["talkiq-asp.calls", "jobs", "a.b.c"];

    public static int Slot(string key)
    {
        var bytes = Encoding.UTF8.GetBytes(key);
        var open = Array.IndexOf(bytes, (byte)'{');
        if (open >= 0)
        {
            var close = Array.IndexOf(bytes, (byte)'}', open + 1);
            if (close > open + 1) bytes = bytes[(open + 1)..close];
        }
        return Crc16(bytes) % 16384;
    }

    private static int Crc16(byte[] data)
    {
        var crc = 0;
        foreach (var b in data)
        {
            crc ^= b << 8;
            for (var i = 0; i < 8; i++) crc = (crc & 0x8000) != 0 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
        }
        return crc;
    }

    [Test]
    public void TheSlotFunctionIsRedisClusters()
    {
        // the reference values of the Redis Cluster specification and of redis-cli CLUSTER KEYSLOT
        Assert.That(Crc16(Encoding.ASCII.GetBytes("123456789")), Is.EqualTo(0x31C3));
        Assert.That(Slot("foo"), Is.EqualTo(12182));
        Assert.That(Slot("{user1000}.following"), Is.EqualTo(Slot("{user1000}.followers")));
        Assert.That(Slot("foo{}{bar}"), Is.EqualTo(Crc16(Encoding.ASCII.GetBytes("foo{}{bar}")) % 16384), "an empty tag: the whole key");
        Assert.That(Slot("foo{{bar}}zap"), Is.EqualTo(Slot("{bar")));
        Assert.That(Slot("foo{bar}{zap}"), Is.EqualTo(Slot("bar")));
    }

    /// <summary>Each script with the keys it is given, over awkward ids: (name, script, keys).</summary>
    private static IEnumerable<(string Name, string Script, RedisKey[] Keys)> Uses()
    {
        foreach (var d in DialIds)
        {
            yield return ("Gate", OutboxScripts.Gate, OutboxScripts.GateKeys(d));
            yield return ("Announce", OutboxScripts.Announce, OutboxScripts.GateKeys(d));
            yield return ("SaveState", OutboxScripts.SaveState, OutboxScripts.StateKeys(d));
            yield return ("RestoreState", OutboxScripts.RestoreState, OutboxScripts.StateKeys(d));
            yield return ("DeleteState", OutboxScripts.DeleteState, OutboxScripts.StateKeys(d));
            yield return ("Claim", OutboxScripts.Claim, OutboxScripts.StateKeys(d));
            yield return ("Release", OutboxScripts.Release, OutboxScripts.StateKeys(d));
            foreach (var o in Orgs)
            foreach (var u in Users)
            {
                yield return ("ActiveAdd", OutboxScripts.ActiveAdd, OutboxScripts.ActiveKeys(d, o, u));
                yield return ("ActiveRemove", OutboxScripts.ActiveRemove, OutboxScripts.ActiveKeys(d, o, u));
            }
        }
        foreach (var o in Orgs)
        foreach (var u in Users)
        {
            yield return ("HistoryPush", OutboxScripts.HistoryPush, OutboxScripts.HistoryKeys(o, u));
            yield return ("HistoryPushOnce", OutboxScripts.HistoryPushOnce, OutboxScripts.HistoryKeys(o, u));
            yield return ("Refusal", OutboxScripts.Refusal, OutboxScripts.HistoryKeys(o, u));
        }
        foreach (var list in JobLists)
        foreach (var instance in new[] { "inst-1", "host:8084" })
        {
            var keys = new RedisKeys(list, instance);
            yield return ("DeadLetter", OutboxScripts.DeadLetter, OutboxScripts.DeadLetterKeys(keys));
            yield return ("ReturnJob", OutboxScripts.ReturnJob, OutboxScripts.ReturnJobKeys(keys));
            yield return ("RestoreJob", OutboxScripts.RestoreJob, OutboxScripts.RestoreJobKeys(keys));
        }
    }

    [Test]
    public void TheLeaseAndTakeOverScriptsTouchTheRedswitchSlotOnly()
    {
        Assert.That(InstanceLease.RenewKeys, Is.EqualTo(new RedisKey[] { RedisKeys.Instances, RedisKeys.Sockets }));
        Assert.That(Slot(RedisKeys.Instances), Is.EqualTo(Slot("redswitch")), "the {redswitch} tag");
        Assert.That(Slot(RedisKeys.Sockets), Is.EqualTo(Slot("redswitch")));
        // SMOVE between two instances' index sets (SPEC §8.1 "Claim") needs both in one slot.
        Assert.That(Slot(RedisKeys.Owned("inst-1")), Is.EqualTo(Slot(RedisKeys.Owned("host:8084"))).And.EqualTo(Slot(RedisKeys.Instances)));
        Assert.That(Slot(RedisKeys.Draining), Is.EqualTo(Slot("redswitch")));
        foreach (var (script, keys) in new[]
                 {
                     (InstanceLease.RenewScript, InstanceLease.RenewKeys),
                     (InstanceLease.LeaveScript, InstanceLease.LeaveKeys("host:8084")),
                     (Redswitch.Server.Takeover.TakeoverMonitor.LapsedScript, Redswitch.Server.Takeover.TakeoverMonitor.MonitorKeys),
                     (Redswitch.Server.Takeover.TakeoverMonitor.ForgetScript, Redswitch.Server.Takeover.TakeoverMonitor.MonitorKeys),
                     (Redswitch.Server.Takeover.CallClaimer.LapsedScript, [RedisKeys.Instances]),
                     (Redswitch.Server.Takeover.HandoffDrain.AnnounceScript, Redswitch.Server.Takeover.HandoffDrain.AnnounceKeys),
                 })
        {
            Assert.That(Regex.Matches(script, @"KEYS\[(\d+)\]").Select(m => int.Parse(m.Groups[1].Value)).Max(), Is.EqualTo(keys.Length), script);
            Assert.That(keys.Select(k => Slot(k!)).Distinct().Single(), Is.EqualTo(Slot("redswitch")), script);
        }
    }

    [Test]
    public void EveryScriptTouchesKeysOfOneSlot()
    {
        var names = new HashSet<string>();
        foreach (var (name, script, keys) in Uses())
        {
            names.Add(name);
            var slots = keys.Select(k => Slot(k!)).Distinct().ToList();
            Assert.That(slots, Has.Count.EqualTo(1), $"{name} with keys {string.Join(", ", keys)}");
        }
        // every script constant of OutboxScripts is covered above
        var declared = typeof(OutboxScripts).GetFields().Where(f => f.IsLiteral && f.FieldType == typeof(string)).Select(f => f.Name);
        Assert.That(names, Is.SupersetOf(declared));
    }

    [Test]
    public void NoScriptReachesBeyondTheKeysItIsGiven()
    {
        foreach (var (name, script, keys) in Uses())
        {
            var used = Regex.Matches(script, @"KEYS\[(\d+)\]").Select(m => int.Parse(m.Groups[1].Value)).DefaultIfEmpty(0).Max();
            Assert.That(used, Is.EqualTo(keys.Length), $"{name}: KEYS used against keys given");
            // a key built inside the script (string concatenation into a redis.call) would escape the slot check
            Assert.That(script, Does.Not.Match(@"redis\.call\('[A-Z]+', *'"), name);
        }
    }
}
