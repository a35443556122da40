// SaslCheck drives ZooKeeper's Java client against a server for the SASL
// interop test (sasl/interop_test.go): it prints one line per step, so the
// output of a run against zkserver can be compared with one against
// Apache ZooKeeper. Usage: SaslCheck host:port path mode, where mode is
// "login" (the JAAS Client section authenticates), "anon" (no SASL) or
// "fail" (a section with a wrong password).
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Id;

public class SaslCheck {
    public static void main(String[] args) throws Exception {
        String addr = args[0], path = args[1], mode = args[2];
        final CountDownLatch settled = new CountDownLatch(1);
        final StringBuilder states = new StringBuilder();
        final boolean anon = mode.equals("anon");
        ZooKeeper zk = new ZooKeeper(addr, 10000, e -> {
            if (e.getType() != Watcher.Event.EventType.None) {
                return;
            }
            Watcher.Event.KeeperState s = e.getState();
            synchronized (states) {
                states.append(s).append(' ');
            }
            if (s == Watcher.Event.KeeperState.SaslAuthenticated || s == Watcher.Event.KeeperState.AuthFailed
                || (anon && s == Watcher.Event.KeeperState.SyncConnected)) {
                settled.countDown();
            }
        });
        boolean ok = settled.await(30, TimeUnit.SECONDS);
        synchronized (states) {
            System.out.println("events: " + states.toString().trim() + (ok ? "" : " (timeout)"));
        }
        if (mode.equals("fail")) {
            try {
                zk.getData("/", false, null);
                System.out.println("getData /: ok");
            } catch (KeeperException e) {
                System.out.println("getData /: " + e.code());
            }
            zk.close();
            return;
        }
        List<ClientInfo> who = zk.whoAmI();
        StringBuilder sb = new StringBuilder();
        for (ClientInfo ci : who) {
            sb.append(ci.getAuthScheme()).append('=').append(ci.getUser().equals("127.0.0.1") ? "<ip>" : ci.getUser()).append(' ');
        }
        System.out.println("whoAmI: " + sb.toString().trim());
        if (mode.equals("login")) {
            ACL mine = new ACL(ZooDefs.Perms.ALL, new Id("sasl", "bob"));
            zk.create(path, "secret".getBytes(), new ArrayList<>(Arrays.asList(mine)), CreateMode.PERSISTENT);
            System.out.println("create " + path + ": ok");
            System.out.println("getData: " + new String(zk.getData(path, false, null)));
            zk.create(path + "-auth", new byte[0], ZooDefs.Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT);
            for (ACL a : zk.getACL(path + "-auth", null)) {
                System.out.println("auth acl: " + a.getId().getScheme() + ":" + a.getId().getId() + " " + a.getPerms());
            }
            try {
                zk.create(path + "-bad", new byte[0], new ArrayList<>(Arrays.asList(new ACL(ZooDefs.Perms.ALL, new Id("sasl", "a@b@c")))), CreateMode.PERSISTENT);
                System.out.println("malformed sasl id: ok");
            } catch (KeeperException e) {
                System.out.println("malformed sasl id: " + e.code());
            }
        } else {
            try {
                zk.getData(path, false, null);
                System.out.println("getData: ok");
            } catch (KeeperException e) {
                System.out.println("getData: " + e.code());
            }
        }
        zk.close();
    }
}
