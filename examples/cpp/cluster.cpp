// The demo's instrument cluster, a C++ ECU: counts chassis/speed samples (checking each value
// against the chassis' deterministic formula) and follows the body/drive_mode field.
//
//   vbus-cpp-cluster [<node.json5>]       (default: the embedded defaults, node `cluster`)
//
// Prints "ready" once subscribed, "drive_mode <Mode> by <who>" on each change, and when stdin
// closes the summary "received speed=N bad=M drive_mode=<Mode>".
#include <atomic>
#include <cmath>
#include <iostream>
#include <string>
#include <thread>

#include <vbus/vbus.hpp>

#include "vehicle.vbus.hpp"

namespace dv = demo::vehicle;
namespace topics = vbus_gen::vehicle::topics;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
  try {
    vbus::Node node = argc > 1 ? vbus::Node::from_file(argv[1]) : vbus::Node("{name: 'cluster'}");
    std::atomic<unsigned long> received{0}, bad{0};
    // The chassis' speed for sequence number `seq` (vbus-demo's `speed_at`).
    auto expected = [](std::uint64_t seq) { return static_cast<float>(60.0 + 40.0 * std::sin(seq / 40.0)); };
    vbus::CallbackSubscriber<topics::chassis::speed> speed(node, [&](const vbus::SampleView<dv::VehicleSpeed>& s) {
      received++;
      if (s->kph() != expected(s.seq())) bad++;
    });
    vbus::FieldClient<topics::body::drive_mode> mode(node);
    std::atomic<bool> stop{false};
    std::string last_mode = "none";
    std::thread following([&] {
      while (!stop) {
        if (auto v = mode.wait_changed(100ms)) {
          last_mode = dv::EnumNameDriveMode((*v)->mode());
          std::string by = (*v)->changed_by() ? (*v)->changed_by()->str() : "";
          std::cout << "drive_mode " << last_mode << " by " << by << std::endl;
        }
      }
    });
    std::cout << "ready" << std::endl;
    std::string line;
    while (std::getline(std::cin, line)) {
    }
    stop = true;
    following.join();
    std::cout << "received speed=" << received << " bad=" << bad << " drive_mode=" << last_mode << std::endl;
    return bad == 0 ? 0 : 1;
  } catch (const vbus::Error& e) {
    std::cerr << "vbus-cpp-cluster: " << e.what() << std::endl;
    return 1;
  }
}
