// Test oracle for config/quorum_oracle_test.go: parses each zoo.cfg given on
// the command line with Apache ZooKeeper's own QuorumPeerConfig and prints
// what the Go package must agree with. Run as a single-file source program:
//   java -cp zookeeper.jar:slf4j-api.jar CfgOracle.java a.cfg b.cfg ...
import java.net.InetSocketAddress;
import org.apache.zookeeper.server.quorum.QuorumPeerConfig;

public class CfgOracle {
    public static void main(String[] args) {
        for (String path : args) {
            // Two settings are static in QuorumPeerConfig: reset them per file.
            QuorumPeerConfig.setStandaloneEnabled(true);
            QuorumPeerConfig.setReconfigEnabled(false);
            QuorumPeerConfig cfg = new QuorumPeerConfig();
            System.out.println("== " + path);
            try {
                cfg.parse(path);
            } catch (Throwable e) {
                Throwable root = e;
                while (root.getCause() != null) {
                    root = root.getCause();
                }
                System.out.println("ERR " + root.toString().replace('\n', ' '));
                System.out.println("==END");
                continue;
            }
            InetSocketAddress client = cfg.getClientPortAddress();
            System.out.println("OK");
            System.out.println("distributed=" + cfg.isDistributed());
            System.out.println("id=" + cfg.getServerId());
            System.out.println("type=" + cfg.getPeerType());
            System.out.println("clientHost=" + (client == null ? "" : client.getHostString()));
            System.out.println("clientPort=" + (client == null ? -1 : client.getPort()));
            String qv = cfg.getQuorumVerifier() == null ? "" : cfg.getQuorumVerifier().toString();
            System.out.println("qvlen=" + qv.length());
            System.out.println(qv);
            System.out.println("==END");
        }
    }
}
