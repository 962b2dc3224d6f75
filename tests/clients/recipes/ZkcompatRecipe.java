import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;

public class ZkcompatRecipe {
    public static void main(String[] args) throws Exception {
        Process zk = new ProcessBuilder("zkcompat", "serve", "--in-memory", "--host", "127.0.0.1", "--port", "0",
                "--print-port").redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            String port = new BufferedReader(new InputStreamReader(zk.getInputStream())).readLine().trim();
            try (CuratorFramework client = CuratorFrameworkFactory.newClient("127.0.0.1:" + port, new RetryOneTime(100))) {
                client.start();
                client.blockUntilConnected(10, TimeUnit.SECONDS);
                client.create().forPath("/hello", "world".getBytes());
                System.out.println(new String(client.getData().forPath("/hello")));
            }
        } finally {
            zk.destroy();  // SIGTERM: zkcompat stops cleanly
            zk.waitFor();
        }
    }
}
